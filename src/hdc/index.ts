export { HdcClient, createHdcClientFromConfig, type HdcClientOptions } from "./client";
export { HdcError, isHdcError, isRetryableStatus } from "./errors";
export { parseHdcJson } from "./losslessJson";
export { findDownloadUrl, normalizeSubmissionStatus, type SubmissionProgress } from "./normalizeStatus";
export type * from "./types";
export type { StreamedBody } from "./client";
export {
  createPreprodPackage,
  downloadPreprodAsset,
  findSignedFilesZip,
  getPreprodAsset,
  getPreprodPackage,
  listPreprodAssets,
  preprodFailureMessage,
  type PreprodAsset,
  type PreprodPackage,
  type PreprodRequester,
} from "./preprod";
