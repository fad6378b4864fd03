/**
 * Body of PATCH /api/submissions/{id}/labels/{labelId}:
 *   { "targeting": { "hardwareIds": { "add": [id], "remove": [id] }, "chids": { "add": [guid], "remove": [guid] }, "audiences": [id] } }
 * A hardware id is the full tuple { bundleId, infId, operatingSystemCode, pnpString } (as in the
 * label or the dry-run request). `audiences` overwrites the label's audiences ([] removes them).
 * Becomes the service's PATCH body (`targeting` with action add|remove per entry).
 */
import { z } from "zod";
import type { LabelTargetingUpdate } from "../../domain/publishing";
import { POLICY_LIMITS } from "../../publishing/policySchema";
import { type Parsed, problemsFromZod } from "./fieldProblems";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_CHANGES = 1000;
const field = (max: number) => z.string({ error: "must be a string" }).trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);

const hardwareId = z.strictObject({
  bundleId: field(64),
  infId: field(POLICY_LIMITS.name),
  operatingSystemCode: field(128),
  pnpString: field(POLICY_LIMITS.pattern),
});
const list = <T extends z.ZodType>(item: T) => z.array(item, { error: "must be an array" }).max(MAX_CHANGES, `must hold at most ${MAX_CHANGES} entries`);
const guid = z.string({ error: "must be a GUID" }).regex(GUID, "must be a GUID");

const bodySchema = z.strictObject({
  targeting: z.strictObject(
    {
      hardwareIds: z.strictObject({ add: list(hardwareId).optional(), remove: list(hardwareId).optional() }).optional(),
      chids: z.strictObject({ add: list(guid).optional(), remove: list(guid).optional() }).optional(),
      audiences: z.array(field(128), { error: "must be an array of audience ids" }).max(POLICY_LIMITS.audiences, `must hold at most ${POLICY_LIMITS.audiences} audiences`).optional(),
    },
    { error: (issue) => (issue.input === undefined ? "is required" : "must be an object") },
  ),
});

export function parseLabelUpdate(body: unknown): Parsed<LabelTargetingUpdate> {
  const result = bodySchema.safeParse(body);
  if (!result.success) return { ok: false, problems: problemsFromZod(result.error) };
  const { hardwareIds, chids, audiences } = result.data.targeting;
  const update: LabelTargetingUpdate = {};
  const hw = [
    ...(hardwareIds?.add ?? []).map((id) => ({ ...id, pnpString: id.pnpString.toLowerCase(), action: "add" as const })),
    ...(hardwareIds?.remove ?? []).map((id) => ({ ...id, pnpString: id.pnpString.toLowerCase(), action: "remove" as const })),
  ];
  const ch = [...(chids?.add ?? []).map((chid) => ({ chid: chid.toLowerCase(), action: "add" as const })), ...(chids?.remove ?? []).map((chid) => ({ chid: chid.toLowerCase(), action: "remove" as const }))];
  if (hw.length > 0) update.hardwareIds = hw;
  if (ch.length > 0) update.chids = ch;
  if (audiences !== undefined) update.restrictedToAudiences = audiences;
  if (!update.hardwareIds && !update.chids && !update.restrictedToAudiences) {
    return { ok: false, problems: [{ field: "targeting", reason: "must add or remove at least one hardware id or CHID, or set audiences" }] };
  }
  return { ok: true, value: update };
}
