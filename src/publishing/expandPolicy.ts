/**
 * Expands a validated publish policy against a submission's driver metadata into the
 * NewShippingLabel body (shipping-labels.md sections 2 and 4), or lists why it cannot be sent.
 * Pure and deterministic (sorted output), so an orchestrator can call it and replay it.
 *
 * The rules checked here need the metadata or the submission: a policy that selects no hardware
 * id, CHIDs only for Windows 10 and later OS codes, extension INFs only as automatic updates,
 * attestation-signed drivers only to test audiences.
 */
import type {
  Audience,
  DriverMetadata,
  DriverMetadataInf,
  HardwareIdRule,
  LabelHardwareId,
  NewShippingLabel,
  PublishPolicy,
} from "../domain/publishing";
import type { TestHarness } from "../domain/types";
import type { FieldProblem, Parsed } from "../domain/validation";
import { globMatches } from "./glob";
import { isWindows10OrLater, POLICY_LIMITS } from "./policySchema";

/** The service accepts large labels, but a label (and the history that records it) must stay bounded. */
export const MAX_LABEL_HARDWARE_IDS = 5000;
export const MAX_LABEL_CHIDS = POLICY_LIMITS.chids;
/** How many offending names a problem lists before "…". */
const LISTED = 5;

export interface SubmissionFacts {
  productName: string;
  testHarness: TestHarness;
  /** Driver version for the default name; else taken from the selected INFs. */
  version?: string;
}

export type { Audience } from "../domain/publishing";

export interface ExpandInput {
  policy: PublishPolicy;
  /** The driverMetadata JSON as downloaded (untrusted shape). */
  metadata: unknown;
  submission: SubmissionFacts;
  /** GET /hardware/audiences; needed for attestation labels to Windows Update and to check audience ids. */
  audiences?: Audience[];
}

export interface ExpandedLabel {
  label: NewShippingLabel;
  /** Small facts for status and manifests. */
  summary: { hardwareIds: number; chids: number; infs: string[]; operatingSystemCodes: string[]; extensionInfs: string[] };
}

interface Candidate extends LabelHardwareId {
  inf: DriverMetadataInf;
}

const TEST_AUDIENCE = /test\s*registry\s*key/i;

/** Audiences attestation-signed drivers may go to: "Test Registry Key" and CoDev ones. */
export function isTestAudience(audience: Audience): boolean {
  return [audience.name, audience.audienceName].some((name) => typeof name === "string" && (TEST_AUDIENCE.test(name) || /codev/i.test(name)));
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const sortedKeys = (value: unknown): string[] => (isRecord(value) ? Object.keys(value).sort() : []);
const listed = (names: string[]) => (names.length > LISTED ? `${names.slice(0, LISTED).join(", ")}, … (${names.length} in all)` : names.join(", "));

/** Every (bundle, INF, OS, PnP) tuple of the metadata, in sorted order, PnP lower-cased. */
export function metadataHardwareIds(metadata: unknown): Candidate[] | undefined {
  if (!isRecord(metadata) || !isRecord(metadata.BundleInfoMap)) return undefined;
  const bundles = (metadata as unknown as DriverMetadata).BundleInfoMap;
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  for (const bundleId of sortedKeys(bundles)) {
    const infs = bundles[bundleId]?.InfInfoMap;
    for (const infId of sortedKeys(infs)) {
      const raw: unknown = infs?.[infId];
      if (!isRecord(raw)) continue;
      const inf = raw as DriverMetadataInf;
      for (const operatingSystemCode of sortedKeys(inf.OSPnPInfoMap)) {
        for (const pnp of sortedKeys(inf.OSPnPInfoMap?.[operatingSystemCode])) {
          const pnpString = pnp.toLowerCase();
          const key = [bundleId, infId.toLowerCase(), operatingSystemCode.toLowerCase(), pnpString].join("\u0000");
          if (seen.has(key)) continue;
          seen.add(key);
          candidates.push({ bundleId, infId, operatingSystemCode, pnpString, inf });
        }
      }
    }
  }
  return candidates;
}

const ruleMatches = (rule: HardwareIdRule, id: LabelHardwareId) =>
  (rule.inf === undefined || globMatches(rule.inf, id.infId)) &&
  (rule.osCode === undefined || globMatches(rule.osCode, id.operatingSystemCode)) &&
  (rule.pnp === undefined || globMatches(rule.pnp, id.pnpString));

/** The hardware ids a policy selects (include, then exclude). */
function select(candidates: Candidate[], policy: PublishPolicy): Candidate[] {
  const selection = policy.hardwareIds ?? "all";
  if (selection === "all") return candidates;
  return candidates.filter(
    (id) =>
      (selection.include === undefined || selection.include.some((rule) => ruleMatches(rule, id))) &&
      !(selection.exclude ?? []).some((rule) => ruleMatches(rule, id)),
  );
}

/** Numeric comparison of dotted versions ("10.0.2" < "10.0.10"). */
function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((part) => Number.parseInt(part, 10) || 0);
  const pb = b.split(".").map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function defaultName(facts: SubmissionFacts, selected: Candidate[]): string {
  const versions = [...new Set(selected.map((id) => id.inf.DriverVersion).filter((v): v is string => typeof v === "string" && v.trim() !== ""))];
  const version = facts.version ?? versions.sort(compareVersions).at(-1);
  const suffix = version ? ` ${version.trim()}` : "";
  return `${facts.productName.trim().slice(0, POLICY_LIMITS.name - suffix.length)}${suffix}`;
}

/**
 * A failed expansion still carries the label the policy describes (`draft`) when the metadata could
 * be read, so a dry run can show what it would send next to what Microsoft would refuse.
 */
export type Expansion = Parsed<ExpandedLabel> & { draft?: ExpandedLabel };

export function expandPolicy(input: ExpandInput): Expansion {
  const { policy, submission } = input;
  const problems: FieldProblem[] = [];
  const add = (field: string, reason: string) => problems.push({ field: `publish.${field}`, reason });

  const candidates = metadataHardwareIds(input.metadata);
  if (candidates === undefined) {
    return { ok: false, problems: [{ field: "driverMetadata", reason: "is not driver metadata (no BundleInfoMap object)" }] };
  }
  const selected = select(candidates, policy);
  if (selected.length === 0) {
    add("hardwareIds", `selects no hardware id: the driver metadata lists ${candidates.length}, none matched the policy`);
  } else if (selected.length > MAX_LABEL_HARDWARE_IDS) {
    add("hardwareIds", `selects ${selected.length} hardware ids; at most ${MAX_LABEL_HARDWARE_IDS} per label (narrow it with include/exclude rules)`);
  }

  const windowsUpdate = policy.destination === "windowsUpdate";
  const autoInstall = policy.autoInstallDuringOSUpgrade === true || policy.autoInstallOnApplicableSystems === true;
  const extensionInfs = [...new Set(selected.filter((id) => id.inf.ExtensionId != null).map((id) => id.infId))].sort();
  if (windowsUpdate && !autoInstall && extensionInfs.length > 0) {
    add(
      "hardwareIds",
      `selects extension INF(s) ${listed(extensionInfs)}, which can only be published as an automatic update: set autoInstallOnApplicableSystems (with approval) or exclude them`,
    );
  }

  // CHIDs: lower-case GUIDs, sorted, deduplicated.
  let chids: string[] = [];
  if (policy.chids === "allFromMetadata") {
    chids = [...new Set(selected.flatMap((id) => (Array.isArray(id.inf.InstallationComputerHardwareIds) ? id.inf.InstallationComputerHardwareIds : [])))]
      .filter((chid): chid is string => typeof chid === "string")
      .map((chid) => chid.toLowerCase());
    chids = [...new Set(chids)].sort();
    if (chids.length === 0 && selected.length > 0) add("chids", "is allFromMetadata, but the selected INFs list no InstallationComputerHardwareIds");
  } else if (Array.isArray(policy.chids)) {
    chids = [...new Set(policy.chids.map((chid) => chid.toLowerCase()))].sort();
  }
  if (chids.length > MAX_LABEL_CHIDS) add("chids", `holds ${chids.length} CHIDs; at most ${MAX_LABEL_CHIDS} per label`);
  if (chids.length > 0) {
    const older = [...new Set(selected.map((id) => id.operatingSystemCode).filter((code) => !isWindows10OrLater(code)))].sort();
    if (older.length > 0) {
      add("chids", `are only allowed when every hardware id targets Windows 10 or later; the selection includes ${listed(older)} (exclude those OS codes or drop chids)`);
    }
  }

  // Audiences: known ids only; attestation to Windows Update only to test audiences.
  let audiences = policy.audiences ? [...new Set(policy.audiences)].sort() : [];
  if (input.audiences !== undefined && policy.audiences !== undefined) {
    const known = new Set(input.audiences.map((audience) => audience.id.toLowerCase()));
    policy.audiences.forEach((id, index) => {
      if (!known.has(id.toLowerCase())) add(`audiences.${index}`, "is not an audience id listed by GET /hardware/audiences");
    });
  }
  if (windowsUpdate && submission.testHarness === "attestation") {
    if (input.audiences === undefined) {
      add("audiences", "cannot be checked: attestation-signed drivers may only go to test audiences, and the audience list was not read");
    } else {
      const testIds = new Set(input.audiences.filter(isTestAudience).map((audience) => audience.id.toLowerCase()));
      if (policy.audiences === undefined) {
        const registryKey = input.audiences.find((audience) => [audience.name, audience.audienceName].some((n) => typeof n === "string" && TEST_AUDIENCE.test(n)));
        if (registryKey) audiences = [registryKey.id];
        else add("audiences", 'is required: attestation-signed drivers may only go to test audiences, and GET /hardware/audiences lists no "Test Registry Key"');
      } else {
        policy.audiences.forEach((id, index) => {
          if (!testIds.has(id.toLowerCase())) add(`audiences.${index}`, "is not a test audience; attestation-signed drivers may only be published to test audiences (e.g. Test Registry Key)");
        });
        if (policy.audiences.length === 0) add("audiences", "must name a test audience for an attestation-signed driver");
      }
    }
  }

  const hardwareIds: LabelHardwareId[] = selected.map(({ bundleId, infId, operatingSystemCode, pnpString }) => ({ bundleId, infId, operatingSystemCode, pnpString }));
  const label: NewShippingLabel = {
    name: policy.name ?? defaultName(submission, selected),
    destination: policy.destination,
    targeting: {
      hardwareIds,
      chids: chids.map((chid) => ({ chid })),
      restrictedToAudiences: audiences,
      ...(policy.floor !== undefined || policy.ceiling !== undefined
        ? { inServicePublishInfo: { ...(policy.floor ? { flooring: policy.floor } : {}), ...(policy.ceiling ? { ceiling: policy.ceiling } : {}) } }
        : {}),
      ...(policy.coEngineering
        ? {
            coEngDriverPublishInfo: {
              flooringBuildNumber: policy.coEngineering.floorBuildNumber,
              ...(policy.coEngineering.ceilingBuildNumber ? { ceilingBuildNumber: policy.coEngineering.ceilingBuildNumber } : {}),
            },
          }
        : {}),
    },
  };
  if (windowsUpdate) {
    const approval = policy.approval;
    label.publishingSpecifications = {
      ...(policy.goLiveDate ? { goLiveDate: policy.goLiveDate } : {}),
      visibleToAccounts: [...new Set(policy.visibleToAccounts ?? [])].sort().map(Number),
      isAutoInstallDuringOSUpgrade: policy.autoInstallDuringOSUpgrade ?? false,
      isAutoInstallOnApplicableSystems: policy.autoInstallOnApplicableSystems ?? false,
      manualAcquisition: !autoInstall,
      isDisclosureRestricted: policy.isDisclosureRestricted ?? false,
      publishToWindows10s: false,
      ...(approval
        ? {
            additionalInfoForMsApproval: {
              microsoftContact: approval.microsoftContact,
              validationsPerformed: approval.validationsPerformed,
              affectedOems: approval.affectedOems,
              isRebootRequired: approval.isRebootRequired ?? false,
              isCoEngineered: approval.isCoEngineered ?? false,
              isForUnreleasedHardware: approval.isForUnreleasedHardware ?? false,
              hasUiSoftware: approval.hasUiSoftware ?? false,
              businessJustification: approval.businessJustification,
            },
          }
        : {}),
    };
  } else {
    label.recipientSpecifications = { receiverPublisherId: policy.receiverPublisherId ?? "", enforceChidTargeting: policy.enforceChidTargeting ?? false };
  }
  const expanded: ExpandedLabel = {
    label,
    summary: {
      hardwareIds: hardwareIds.length,
      chids: chids.length,
      infs: [...new Set(hardwareIds.map((id) => id.infId))].sort(),
      operatingSystemCodes: [...new Set(hardwareIds.map((id) => id.operatingSystemCode))].sort(),
      extensionInfs,
    },
  };
  return problems.length > 0 ? { ok: false, problems, draft: expanded } : { ok: true, value: expanded };
}
