/**
 * A change to a shipping label (issue 30): PATCH of its targeting or cancel, run in the background
 * by the changeLabel orchestration (Microsoft's answers and their retries can outlast an HTTP call).
 * What the status location and the label listing show of it.
 */
export type LabelChangeKind = "update" | "cancel";
export type LabelChangeState = "running" | "succeeded" | "failed";

export interface LabelChangeStatus {
  kind: LabelChangeKind;
  labelId: string;
  state: LabelChangeState;
  /** Why it failed: Microsoft's refusal (validation, wrong phase) or the last transient error. No URL. */
  reason?: string;
  /** The change was found already applied at Microsoft (a repeated request, or a retry after a lost answer): not sent again. */
  alreadyApplied?: boolean;
  /** update: how many entries the change held. */
  hardwareIdChanges?: number;
  chidChanges?: number;
  audiencesSet?: boolean;
  /** Orchestration time the change started / ended. */
  startedAt?: string;
  endedAt?: string;
}

/** Matches one hardware id entry of a label to one of a change, the way the service does (pnp case-insensitive). */
export function hardwareIdKey(entry: { bundleId?: unknown; infId?: unknown; operatingSystemCode?: unknown; pnpString?: unknown }): string {
  const text = (value: unknown) => (typeof value === "string" ? value.trim().toLowerCase() : "");
  return JSON.stringify([text(entry.bundleId), text(entry.infId), text(entry.operatingSystemCode), text(entry.pnpString)]);
}

const REMOVED_STATES = new Set(["pendingremove", "removed"]);
/** Whether an entry's distributionState means "on the label" (added or being added). */
export function isActiveDistribution(state: unknown): boolean {
  return !(typeof state === "string" && REMOVED_STATES.has(state.toLowerCase()));
}
