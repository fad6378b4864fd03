/**
 * Orchestration instance ids derived from the package blob, so a redelivered Event Grid event or a
 * repeated HTTP request for the same blob version maps to the same instance and starts nothing new.
 */
import { createHash } from "node:crypto";

export const INSTANCE_ID_PREFIX = "drv-";
/** Preproduction runs (issue 40): "pre-" tells the kind at a glance in lists and on the page. */
export const PREPROD_INSTANCE_ID_PREFIX = "pre-";
const HASH_HEX_LENGTH = 32;

/** Event Grid sends ETags bare ("0x8D…"), HEAD responses quote them ("\"0x8D…\""); both mean the same version. */
export function normalizeEtag(etag: string): string {
  return etag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/**
 * "drv-" + 32 hex chars of sha256(container, blob name, ETag): stable and safe in URLs and table keys.
 *
 * A preproduction run of the same version gets an id of its own ("pre-" + the hash with the kind
 * mixed in), so both kinds may exist side by side: preprod signing is how an engineer tests the very
 * package (ELAM, HalExt... with Secure Boot on) that later goes for product signing, or the way to
 * get what attestation could not give an already signed one; asking for one kind must neither return
 * nor replace the other's run, nor make the user upload the same bytes again. Each kind stays
 * idempotent per version. Product ids are unchanged (no kind in their hash).
 */
export function instanceIdForPackage(container: string, blobName: string, etag: string, signing?: "preproduction"): string {
  const parts: string[] = [container, blobName, normalizeEtag(etag)];
  if (signing === "preproduction") parts.push(signing);
  const digest = createHash("sha256").update(JSON.stringify(parts)).digest("hex");
  return `${signing === "preproduction" ? PREPROD_INSTANCE_ID_PREFIX : INSTANCE_ID_PREFIX}${digest.slice(0, HASH_HEX_LENGTH)}`;
}

/** Caller-chosen ids: letters, digits, '-' and '_', starting with a letter or digit, at most 100 characters. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export function isValidInstanceId(id: string): boolean {
  return INSTANCE_ID_PATTERN.test(id);
}

/** Instance id of the n-th publishLabel run of a submission (1 = the one submitDriver starts after signing). */
export function labelInstanceId(submissionInstanceId: string, n: number): string {
  return `${submissionInstanceId}-label-${n}`;
}

/**
 * Instance id of the n-th change (PATCH or cancel) of one label of a submission: deterministic, so a
 * change is started once (a second request meanwhile finds it) and its status has a stable address.
 */
export function labelChangeInstanceId(submissionInstanceId: string, labelId: string, n: number): string {
  return `${submissionInstanceId}-lbl-${labelId}-chg-${n}`;
}

/**
 * Key of one round's product/submission checkpoints and claims: the instance id for round 1 (keys
 * written before rounds existed stay valid), `<instance id>-r<n>` for later rounds.
 */
export function roundKey(instanceId: string, round: number | undefined): string {
  return (round ?? 1) > 1 ? `${instanceId}-r${round}` : instanceId;
}

/** True when a checkpoint/claim key belongs to this instance (any round): the same package version. */
export function isRoundKeyOf(key: string, instanceId: string): boolean {
  if (key === instanceId) return true;
  return key.startsWith(`${instanceId}-r`) && /^[1-9][0-9]*$/.test(key.slice(instanceId.length + 2));
}
