/**
 * The orchestration's public face: the custom status set at every stage and the summary it returns.
 * Both are read by GET /api/submissions/{id}, so they hold only non-secret facts.
 */
import type * as df from "durable-functions";
import type { BlobLocation, PackageRef, Stage, StageTransition, SubmissionCustomStatus } from "../domain/types";

/** Microsoft's error report can be long; status and exception messages keep a bounded prefix. */
export const MAX_ERROR_REPORT_IN_STATUS = 4000;
export const MAX_ERROR_REPORT_IN_MESSAGE = 500;

/** What a completed orchestration returns (its `output`). */
export interface SubmitDriverSummary {
  outcome: "succeeded";
  instanceId: string;
  package: PackageRef;
  productId: string;
  submissionId: string;
  commitStatus: string | null;
  signedPackage: BlobLocation;
  driverMetadata?: BlobLocation;
  manifest?: BlobLocation;
  pollCount: number;
  generation: number;
  startedAt: string;
  finishedAt: string;
}

export type StatusFacts = Omit<SubmissionCustomStatus, "stage" | "package" | "updatedAt" | "stageHistory">;

/** Stage changes kept in custom status: the first (when it started) and the latest ones. */
export const MAX_STAGE_HISTORY = 24;

/**
 * Custom status is capped by the host (16 KB); a long HLK failure list must not push it over. The
 * result manifest keeps every message.
 */
export const MAX_MESSAGES_IN_STATUS = 20;
export const MAX_MESSAGE_LENGTH_IN_STATUS = 500;

export function boundedMessages(messages: string[]): string[] {
  const kept = messages.slice(0, MAX_MESSAGES_IN_STATUS).map((message) => truncate(message, MAX_MESSAGE_LENGTH_IN_STATUS));
  const dropped = messages.length - kept.length;
  return dropped > 0 ? [...kept, `(${dropped} more in the result manifest)`] : kept;
}

export function truncate(text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

/**
 * Accumulates the facts learnt so far and publishes them with each stage change. Replays call it
 * again with the same values, which is harmless: only the last value of an episode is kept.
 */
export class StatusReporter {
  private facts: StatusFacts = {};
  private current: Stage = "queued";
  private readonly transitions: StageTransition[];

  /** `earlierHistory`: the stage changes of earlier generations (carried through continueAsNew). */
  constructor(
    private readonly context: df.OrchestrationContext,
    private readonly packageRef: PackageRef,
    earlierHistory: readonly StageTransition[] = [],
  ) {
    this.transitions = [...earlierHistory];
  }

  /** Stage changes so far; `at` is orchestration time, so a replay rebuilds the same list. */
  get history(): StageTransition[] {
    return [...this.transitions];
  }

  get stage(): Stage {
    return this.current;
  }

  get known(): Readonly<StatusFacts> {
    return this.facts;
  }

  /** Records `stage` plus any new facts; `undefined` values clear a fact (e.g. nextPollAt). */
  report(stage: Stage, facts: Partial<StatusFacts> = {}): void {
    this.current = stage;
    this.recordTransition(stage);
    const merged: Record<string, unknown> = { ...this.facts, ...facts };
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
    this.facts = merged as StatusFacts;
    const status: SubmissionCustomStatus = {
      stage,
      package: this.packageRef,
      ...this.facts,
      stageHistory: this.history,
      updatedAt: this.context.df.currentUtcDateTime.toISOString(),
    };
    this.context.df.setCustomStatus(status);
  }

  /** One entry per change of stage; beyond the bound the oldest after the first are dropped. */
  private recordTransition(stage: Stage): void {
    if (this.transitions[this.transitions.length - 1]?.stage === stage) return;
    this.transitions.push({ stage, at: this.context.df.currentUtcDateTime.toISOString() });
    if (this.transitions.length > MAX_STAGE_HISTORY) this.transitions.splice(1, this.transitions.length - MAX_STAGE_HISTORY);
  }
}
