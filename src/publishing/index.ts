/** Publishing after signing (issue 11): policy validation and expansion into a shipping label. */
export { parsePublishPolicy, publishPolicyShape, POLICY_LIMITS, isWindows10OrLater } from "./policySchema";
export { expandPolicy, metadataHardwareIds, isTestAudience, MAX_LABEL_HARDWARE_IDS, MAX_LABEL_CHIDS } from "./expandPolicy";
export type { Audience, ExpandInput, ExpandedLabel, SubmissionFacts } from "./expandPolicy";
export { globMatches } from "./glob";
export { previewLabel, metadataFromInfs, architectureOfOsCode, PREVIEW_SAMPLE } from "./previewLabel";
export type * from "../domain/publishing";
