/**
 * Reads a preprod package's signingStatus (compared without case; anything unknown is "unknown" and
 * the orchestrator keeps waiting). On Failed, Microsoft's error.message is kept whole as a blob beside
 * the result manifest (<package>/<instance>/preprodError_<packageId>.txt, like issue 29's error
 * report); only a bounded excerpt goes back into history and custom status.
 */
import { preprodPhase } from "../domain/preprod";
import { redactSecrets } from "../domain/redact";
import { getPreprodPackage, preprodFailureMessage } from "../hdc";
import { ensureContainer } from "../storage/blobService";
import { resultFolder } from "../storage/manifests";
import { withStorageErrors } from "../storage/storageErrors";
import type { GetPreprodStatusInput, GetPreprodStatusOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { rethrowHdcFailure } from "./hdcFailures";

export const MAX_PREPROD_ERROR_EXCERPT = 2000;
const MAX_STATUS_WORD = 200;

export function preprodErrorBlobName(input: GetPreprodStatusInput): string {
  return `${resultFolder(input.package, input.instanceId)}/preprodError_${input.packageId}.txt`;
}

export async function getPreprodStatus(input: GetPreprodStatusInput, deps: ActivityDeps): Promise<GetPreprodStatusOutput> {
  let pkg;
  try {
    pkg = await getPreprodPackage(deps.hdc, input.packageId);
  } catch (error) {
    rethrowHdcFailure(error, `Reading preprod package ${input.packageId}`);
  }
  const phase = preprodPhase(pkg.signingStatus);
  const signingStatus = typeof pkg.signingStatus === "string" ? pkg.signingStatus.slice(0, MAX_STATUS_WORD) : undefined;
  if (phase !== "failed") return { phase, ...(signingStatus ? { signingStatus } : {}) };

  const message = redactSecrets(preprodFailureMessage(pkg) ?? "Microsoft reported Failed without an error message");
  const container = deps.config.settings.SIGNED_CONTAINER;
  const blobName = preprodErrorBlobName(input);
  const containerClient = await withStorageErrors("Preparing the signed-drivers container", () => ensureContainer(deps.blobService, container));
  const bytes = Buffer.from(message, "utf8");
  await withStorageErrors("Writing the preprod error message", () =>
    containerClient.getBlockBlobClient(blobName).uploadData(bytes, { blobHTTPHeaders: { blobContentType: "text/plain; charset=utf-8" }, abortSignal: deps.budget.signal }),
  );
  deps.log(`Preprod package ${input.packageId} failed; Microsoft's message (${bytes.length} bytes) is at ${container}/${blobName}`);
  const excerpt = message.length > MAX_PREPROD_ERROR_EXCERPT ? `${message.slice(0, MAX_PREPROD_ERROR_EXCERPT)}…` : message;
  return { phase, ...(signingStatus ? { signingStatus } : {}), errorExcerpt: excerpt, errorMessageBlob: { container, blobName, contentLength: bytes.length } };
}
