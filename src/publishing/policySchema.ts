/**
 * Validation of the `publish` section (sidecar or POST /api/submissions body) before anything is
 * sent: every rule of shipping-labels.md section 2 that does not need the driver metadata. The
 * rules that do (no hardware id selected, extension INFs, attestation audiences, CHIDs against
 * the real OS codes) live in expandPolicy.ts. Problems are named "publish.<path>".
 */
import { z } from "zod";
import { OS_RELEASES, type OsRelease, type PublishPolicy } from "../domain/publishing";
import { type FieldProblem, type Parsed, problemsFromZod } from "../domain/validation";
import { CONTROL_CHARACTERS } from "../domain/packageRules";

/** Bounds that keep a policy (and the orchestration history that carries it) small. */
export const POLICY_LIMITS = {
  rules: 100,
  chids: 1000,
  audiences: 20,
  visibleToAccounts: 100,
  affectedOems: 50,
  name: 256,
  text: 1000,
  pattern: 256,
} as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const text = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !CONTROL_CHARACTERS.test(value), "must not contain control characters");

const bool = z.boolean({ error: "must be true or false" });
const digits = (what: string) =>
  z
    .string({ error: `must be a decimal string (${what})` })
    .regex(/^[0-9]{1,20}$/, `must be a decimal string of at most 20 digits (${what})`);

const release = z
  .string({ error: `must be one of ${OS_RELEASES.join(", ")}` })
  .transform((value) => OS_RELEASES.find((known) => known.toLowerCase() === value.trim().toLowerCase()))
  .refine((value): value is OsRelease => value !== undefined, `must be one of ${OS_RELEASES.join(", ")}`);

const rule = z
  .strictObject({
    inf: text(POLICY_LIMITS.pattern).optional(),
    osCode: text(POLICY_LIMITS.pattern).optional(),
    pnp: text(POLICY_LIMITS.pattern).optional(),
  })
  .refine((value) => value.inf !== undefined || value.osCode !== undefined || value.pnp !== undefined, "must name at least one of inf, osCode, pnp");

const rules = z.array(rule, { error: "must be an array of rules" }).min(1, "must hold at least one rule").max(POLICY_LIMITS.rules, `must hold at most ${POLICY_LIMITS.rules} rules`);

const approval = z.strictObject({
  microsoftContact: z.email({ error: "must be an e-mail address" }).max(POLICY_LIMITS.name, `must be at most ${POLICY_LIMITS.name} characters`),
  validationsPerformed: text(POLICY_LIMITS.text),
  affectedOems: z
    .array(text(POLICY_LIMITS.name), { error: "must be an array of strings" })
    .min(1, "must name at least one OEM")
    .max(POLICY_LIMITS.affectedOems, `must name at most ${POLICY_LIMITS.affectedOems} OEMs`),
  businessJustification: text(POLICY_LIMITS.text),
  isRebootRequired: bool.optional(),
  isCoEngineered: bool.optional(),
  isForUnreleasedHardware: bool.optional(),
  hasUiSoftware: bool.optional(),
});

const policyObject = z.strictObject({
  destination: z.enum(["windowsUpdate", "anotherPartner"], {
    error: (issue) => (issue.input === undefined ? "is required" : "must be windowsUpdate or anotherPartner"),
  }),
  name: text(POLICY_LIMITS.name).optional(),
  hardwareIds: z
    .union([z.literal("all"), z.strictObject({ include: rules.optional(), exclude: rules.optional() })], {
      error: 'must be "all" or {"include": [rules], "exclude": [rules]}',
    })
    .optional(),
  chids: z
    .union(
      [
        z.literal("allFromMetadata"),
        z
          .array(z.string({ error: "must be a GUID" }).regex(GUID, "must be a GUID"), { error: "must be a list of GUIDs" })
          .min(1, "must hold at least one CHID")
          .max(POLICY_LIMITS.chids, `must hold at most ${POLICY_LIMITS.chids} CHIDs`),
      ],
      { error: 'must be "allFromMetadata" or a list of CHID GUIDs' },
    )
    .optional(),
  audiences: z
    .array(text(128), { error: "must be an array of audience ids" })
    .max(POLICY_LIMITS.audiences, `must hold at most ${POLICY_LIMITS.audiences} audiences`)
    .optional(),
  floor: release.optional(),
  ceiling: release.optional(),
  coEngineering: z
    .strictObject({ floorBuildNumber: digits("a build number"), ceilingBuildNumber: digits("a build number").optional() })
    .optional(),
  goLiveDate: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time, e.g. 2026-12-07T00:00:00Z" }).optional(),
  autoInstallDuringOSUpgrade: bool.optional(),
  autoInstallOnApplicableSystems: bool.optional(),
  manualAcquisition: bool.optional(),
  isDisclosureRestricted: bool.optional(),
  approval: approval.optional(),
  visibleToAccounts: z
    .array(z.string({ error: "must be a seller id as a decimal string" }).regex(/^[1-9][0-9]{0,14}$/, "must be a seller id (1-15 digits)"), {
      error: "must be an array of seller ids",
    })
    .max(POLICY_LIMITS.visibleToAccounts, `must hold at most ${POLICY_LIMITS.visibleToAccounts} accounts`)
    .optional(),
  receiverPublisherId: digits("the receiver's publisher id").optional(),
  enforceChidTargeting: bool.optional(),
  dryRun: bool.optional(),
});

/** Fields that only make sense for one destination (publishingSpecifications vs recipientSpecifications). */
const WINDOWS_UPDATE_ONLY = [
  "audiences",
  "floor",
  "ceiling",
  "coEngineering",
  "goLiveDate",
  "autoInstallDuringOSUpgrade",
  "autoInstallOnApplicableSystems",
  "manualAcquisition",
  "isDisclosureRestricted",
  "approval",
  "visibleToAccounts",
] as const;
const PARTNER_ONLY = ["receiverPublisherId", "enforceChidTargeting"] as const;

/** Windows 10 and later (including Windows 11 and Server 2016+) carry the v100 code family. */
export function isWindows10OrLater(osCode: string): boolean {
  return /^windows_v100_/i.test(osCode);
}
const hasGlob = (pattern: string) => /[*?]/.test(pattern);

/** The cross-field rules; each problem names the field to change. */
function crossFieldProblems(policy: z.infer<typeof policyObject>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const add = (field: string, reason: string) => problems.push({ field: `publish.${field}`, reason });

  if (policy.destination === "anotherPartner") {
    if (policy.receiverPublisherId === undefined) add("receiverPublisherId", "is required when destination is anotherPartner");
    for (const field of WINDOWS_UPDATE_ONLY) {
      if (policy[field] !== undefined) add(field, "applies to destination windowsUpdate only");
    }
  } else {
    for (const field of PARTNER_ONLY) {
      if (policy[field] !== undefined) add(field, "applies to destination anotherPartner only");
    }
    const auto = policy.autoInstallDuringOSUpgrade === true || policy.autoInstallOnApplicableSystems === true;
    if (auto && policy.manualAcquisition === true) {
      add("manualAcquisition", "must be false when autoInstallDuringOSUpgrade or autoInstallOnApplicableSystems is true");
    }
    if (!auto && policy.manualAcquisition === false) {
      add("manualAcquisition", "must be true unless autoInstallDuringOSUpgrade or autoInstallOnApplicableSystems is true");
    }
    if (auto && policy.approval === undefined) {
      add("approval", "is required (additionalInfoForMsApproval) when an auto-install flag is true");
    }
    if (policy.coEngineering !== undefined && (policy.floor !== undefined || policy.ceiling !== undefined)) {
      add("coEngineering", "cannot be combined with floor/ceiling (in-service and co-engineering publishing info are exclusive)");
    }
    if (policy.floor !== undefined && policy.ceiling !== undefined && OS_RELEASES.indexOf(policy.floor) > OS_RELEASES.indexOf(policy.ceiling)) {
      add("ceiling", `must not be older than floor ${policy.floor}`);
    }
    const co = policy.coEngineering;
    if (co?.ceilingBuildNumber !== undefined && BigInt(co.ceilingBuildNumber) < BigInt(co.floorBuildNumber)) {
      add("coEngineering.ceilingBuildNumber", "must not be below floorBuildNumber");
    }
  }

  // CHIDs need Windows 10 or later; literal OS codes can be judged now, globs after expansion.
  const selection = policy.hardwareIds;
  if (policy.chids !== undefined && selection !== undefined && selection !== "all") {
    (selection.include ?? []).forEach((entry, index) => {
      if (entry.osCode !== undefined && !hasGlob(entry.osCode) && !isWindows10OrLater(entry.osCode)) {
        add(`hardwareIds.include.${index}.osCode`, "targets an OS older than Windows 10, where CHIDs are not allowed");
      }
    });
  }
  if (policy.destination === "anotherPartner" && policy.enforceChidTargeting === true && policy.chids === undefined) {
    add("enforceChidTargeting", "needs chids to enforce");
  }
  return problems;
}

/** Parses an untrusted `publish` value; problems carry the "publish." prefix. */
export function parsePublishPolicy(value: unknown): Parsed<PublishPolicy> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, problems: [{ field: "publish", reason: "must be a JSON object" }] };
  }
  const result = policyObject.safeParse(value);
  if (!result.success) return { ok: false, problems: problemsFromZod(result.error, ["publish"]) };
  const problems = crossFieldProblems(result.data);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: result.data as PublishPolicy };
}

/** The zod object for embedding in a larger schema (sidecar / request body); run parsePublishPolicy for the cross-field rules. */
export const publishPolicyShape = policyObject;
