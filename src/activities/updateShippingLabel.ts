/**
 * PATCH .../shippingLabels/{id} (shipping-labels.md section 6): add or remove hardware ids and
 * CHIDs (each entry carries action add|remove), set audiences. Called by the changeLabel
 * orchestration (functions/labels.ts answers 202 and starts it).
 *
 * Sent at most once per change, also across a crash or a lost answer: the label is read first and a
 * change already in effect (every add present, every remove pending or gone, the audiences equal) is
 * not sent again. That is the "adopted, never re-sent" rule of createShippingLabel applied to an update:
 * a retry after a 5xx whose PATCH took effect, or after the worker died mid-call, finds it applied.
 */
import { hardwareIdKey, isActiveDistribution } from "../domain/labelChange";
import type { LabelTargetingUpdate } from "../domain/publishing";
import { getShippingLabel, type ShippingLabel, updateShippingLabelTargeting } from "../hdc/shippingLabels";
import type { UpdateShippingLabelInput, UpdateShippingLabelOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { rethrowHdcFailure } from "./hdcFailures";

export async function updateShippingLabel(input: UpdateShippingLabelInput, deps: ActivityDeps): Promise<UpdateShippingLabelOutput> {
  const counts = {
    hardwareIdChanges: input.targeting.hardwareIds?.length ?? 0,
    chidChanges: input.targeting.chids?.length ?? 0,
    audiencesSet: input.targeting.restrictedToAudiences !== undefined,
  };
  let label: ShippingLabel;
  try {
    label = await getShippingLabel(deps.hdc, input.productId, input.submissionId, input.labelId);
  } catch (error) {
    rethrowHdcFailure(error, `Reading shipping label ${input.labelId}`);
  }
  if (isApplied(label.targeting ?? undefined, input.targeting)) {
    deps.log(`The targeting change of shipping label ${input.labelId} is already in effect; not sent again`);
    return { ...counts, alreadyApplied: true };
  }
  try {
    await updateShippingLabelTargeting(deps.hdc, input.productId, input.submissionId, input.labelId, input.targeting);
  } catch (error) {
    rethrowHdcFailure(error, `Updating shipping label ${input.labelId}`);
  }
  deps.log(`Updated the targeting of shipping label ${input.labelId}`);
  return { ...counts, alreadyApplied: false };
}

/** Whether the label's targeting (as read with includeTargetingInfo) already shows every part of the change. */
export function isApplied(targeting: Record<string, unknown> | undefined, change: LabelTargetingUpdate): boolean {
  const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value.filter((item) => item && typeof item === "object") : []);
  const hardwareIds = new Map(list(targeting?.hardwareIds).map((entry) => [hardwareIdKey(entry), entry.distributionState]));
  for (const entry of change.hardwareIds ?? []) {
    const key = hardwareIdKey(entry);
    const active = hardwareIds.has(key) && isActiveDistribution(hardwareIds.get(key));
    if (active !== (entry.action === "add")) return false;
  }
  const chids = new Map(list(targeting?.chids).map((entry) => [String(entry.chid ?? "").toLowerCase(), entry.distributionState]));
  for (const entry of change.chids ?? []) {
    const key = entry.chid.toLowerCase();
    const active = chids.has(key) && isActiveDistribution(chids.get(key));
    if (active !== (entry.action === "add")) return false;
  }
  if (change.restrictedToAudiences !== undefined) {
    const current = Array.isArray(targeting?.restrictedToAudiences) ? (targeting.restrictedToAudiences as unknown[]).map((a) => String(a).toLowerCase()).sort() : [];
    const wanted = change.restrictedToAudiences.map((a) => a.toLowerCase()).sort();
    if (JSON.stringify(current) !== JSON.stringify(wanted)) return false;
  }
  return true;
}
