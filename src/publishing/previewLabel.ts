/**
 * The label a dry-run publish policy would produce, at drop time (issue 37): Microsoft's driver
 * metadata does not exist yet, so it is stood in for by what the package's INFs say. Each INF (by
 * file name, as Microsoft's InfInfoMap keys it) lists its hardware ids under every OS code the run
 * requests (requestedSignatures) that fits one of the INF's architectures; then expandPolicy runs
 * exactly as it will on the real metadata. Pure and deterministic: the orchestrator may call it.
 *
 * What it cannot know before Microsoft: CHIDs (InstallationComputerHardwareIds), extension INFs and the audience list (an attestation label to Windows Update
 * reports that the audiences are checked when the label is made).
 */
import type { DriverMetadata, PublishPolicy } from "../domain/publishing";
import type { LabelPreview, PreflightInf, ProductFields } from "../domain/types";
import { expandPolicy } from "./expandPolicy";

/** Hardware ids and problems shown in the preview (the label itself can hold thousands). */
export const PREVIEW_SAMPLE = 5;
/** The bundle the stand-in metadata files every INF under (Microsoft names bundles by GUID). */
export const PREVIEW_BUNDLE = "package";

/** The architecture an OS code names (WINDOWS_v100_X64_RS5_FULL → amd64), or undefined when it names none. */
export function architectureOfOsCode(osCode: string): string | undefined {
  const tokens = osCode.toUpperCase().split("_");
  if (tokens.includes("ARM64")) return "arm64";
  if (tokens.includes("X64") || tokens.includes("AMD64")) return "amd64";
  if (tokens.includes("ARM")) return "arm";
  if (tokens.includes("X86")) return "x86";
  return undefined;
}

/**
 * Driver metadata as Microsoft would list it for these INFs: an INF with decorated models sections
 * gets the requested OS codes of its architectures (an OS code naming no architecture fits any);
 * an undecorated INF gets them all.
 */
export function metadataFromInfs(infs: PreflightInf[], requestedSignatures: string[]): DriverMetadata {
  const infInfoMap: NonNullable<DriverMetadata["BundleInfoMap"][string]["InfInfoMap"]> = {};
  for (const inf of infs) {
    const name = (inf.path.split("/").pop() ?? inf.path).toLowerCase();
    const codes = requestedSignatures.filter((code) => {
      const architecture = architectureOfOsCode(code);
      return inf.architectures.length === 0 || architecture === undefined || inf.architectures.includes(architecture);
    });
    const osMap: Record<string, Record<string, object>> = { ...(infInfoMap[name]?.OSPnPInfoMap ?? {}) };
    for (const code of codes) {
      osMap[code] = { ...(osMap[code] ?? {}) };
      for (const id of inf.hardwareIds) osMap[code][id.toLowerCase()] = {};
    }
    infInfoMap[name] = { OSPnPInfoMap: osMap, ...(inf.driverVersion ? { DriverVersion: inf.driverVersion } : {}) };
  }
  return { BundleInfoMap: { [PREVIEW_BUNDLE]: { InfInfoMap: infInfoMap } } };
}

export function previewLabel(policy: PublishPolicy, infs: PreflightInf[], product: Pick<ProductFields, "productName" | "testHarness" | "requestedSignatures">): LabelPreview {
  const metadata = metadataFromInfs(infs, product.requestedSignatures);
  const expansion = expandPolicy({ policy, metadata, submission: { productName: product.productName, testHarness: product.testHarness } });
  const shown = expansion.ok ? expansion.value : expansion.draft;
  const problems = expansion.ok ? [] : expansion.problems.map((p) => `${p.field}: ${p.reason}`);
  return {
    basis: "packageInfs",
    name: shown?.label.name ?? policy.name ?? product.productName,
    destination: policy.destination,
    hardwareIdCount: shown?.summary.hardwareIds ?? 0,
    hardwareIds: (shown?.label.targeting.hardwareIds ?? []).slice(0, PREVIEW_SAMPLE).map((id) => `${id.infId} | ${id.operatingSystemCode} | ${id.pnpString}`),
    operatingSystemCodes: shown?.summary.operatingSystemCodes ?? [],
    chidCount: shown?.summary.chids ?? 0,
    problems,
  };
}
