/**
 * Expands a publish policy into the NewShippingLabel body for a signed submission
 * (shipping-labels.md section 4): reads the submission, downloads its driverMetadata (size-capped,
 * allowed hosts only), lists audiences for Windows Update labels, runs expandPolicy. The full body
 * goes to STATE_CONTAINER (it can hold thousands of hardware ids: too big for history); the
 * orchestrator gets a small summary. A dry run also writes `shippingLabel.request.json` next to the
 * run's manifest for people to read.
 *
 * No driverMetadata item yet (it can appear some polls after the signed package) → { ready: false }.
 */
import { BlobClient } from "@azure/storage-blob";
import { findDownloadUrl } from "../hdc";
import { listAudiences } from "../hdc/shippingLabels";
import { expandPolicy } from "../publishing/expandPolicy";
import type { Audience } from "../domain/publishing";
import { ensureContainer } from "../storage/blobService";
import { writeStateJson } from "../storage/checkpoints";
import { resultFolder } from "../storage/manifests";
import { toStorageOperationError, withStorageErrors } from "../storage/storageErrors";
import type { PrepareShippingLabelInput, PrepareShippingLabelOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { readSubmission, rethrowHdcFailure } from "./hdcFailures";
import { allowedHdcUrl } from "./hdcUrls";

/** Driver metadata of real packages is tens of KiB to a few MiB; beyond this we stop reading. */
export const MAX_DRIVER_METADATA_BYTES = 16 * 1024 * 1024;
/** Hardware ids shown in status as a sample. */
export const HARDWARE_ID_SAMPLE = 5;
export const DRY_RUN_FILE_NAME = "shippingLabel.request.json";

export function labelRequestBlobName(instanceId: string): string {
  return `labels/${instanceId}/request.json`;
}

export async function prepareShippingLabel(input: PrepareShippingLabelInput, deps: ActivityDeps): Promise<PrepareShippingLabelOutput> {
  const { config, hdc, blobService, log } = deps;
  const submission = await readSubmission(hdc, input.productId, input.submissionId);
  const offered = findDownloadUrl(submission, "driverMetadata");
  if (!offered) {
    log(`[${input.instanceId}] submission ${input.submissionId} has no driverMetadata item yet`);
    return { ready: false };
  }
  const url = allowedHdcUrl(offered, "driver metadata download", config.settings.HDC_ALLOWED_URL_HOST_SUFFIXES);
  const metadata = await downloadMetadata(url, deps);

  let audiences: Audience[] | undefined;
  if (input.policy.destination === "windowsUpdate") {
    try {
      audiences = await listAudiences(hdc);
    } catch (error) {
      rethrowHdcFailure(error, "Listing audiences");
    }
  }
  const expanded = expandPolicy({ policy: input.policy, metadata, submission: input.product, audiences });
  const problems = expanded.ok ? [] : expanded.problems.map((p) => `${p.field}: ${p.reason}`);
  // A dry run shows the label the policy describes even when Microsoft would refuse it, with the reasons.
  const shown = expanded.ok ? expanded.value : input.policy.dryRun ? expanded.draft : undefined;
  if (!shown) return { ready: true, ok: false, problems };
  const { label, summary } = shown;
  const request = await writeStateJson(blobService, config, labelRequestBlobName(input.instanceId), label);
  let dryRunRequest: { container: string; blobName: string } | undefined;
  if (input.policy.dryRun) {
    const container = config.settings.SIGNED_CONTAINER;
    const blobName = `${resultFolder(input.package, input.parentInstanceId)}/${DRY_RUN_FILE_NAME}`;
    const body = JSON.stringify(label, null, 2);
    await withStorageErrors("Writing the dry-run shipping label request", async () => {
      const client = await ensureContainer(blobService, container);
      await client.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: "application/json" } });
    });
    dryRunRequest = { container, blobName };
  }
  log(`[${input.instanceId}] label '${label.name}' expands to ${summary.hardwareIds} hardware ids and ${summary.chids} CHIDs`);
  return {
    ready: true,
    ok: true,
    name: label.name,
    destination: label.destination,
    hardwareIdCount: summary.hardwareIds,
    hardwareIdSample: label.targeting.hardwareIds.slice(0, HARDWARE_ID_SAMPLE).map((id) => `${id.infId} | ${id.operatingSystemCode} | ${id.pnpString}`),
    chidCount: summary.chids,
    audiences: label.targeting.restrictedToAudiences,
    request,
    ...(dryRunRequest ? { dryRunRequest } : {}),
    ...(problems.length > 0 ? { problems } : {}),
  };
}

/** The metadata JSON, at most MAX_DRIVER_METADATA_BYTES (a larger one is refused, not cut). */
async function downloadMetadata(url: string, deps: ActivityDeps): Promise<unknown> {
  const client = new BlobClient(url);
  let text: string;
  try {
    const download = await client.download(0, MAX_DRIVER_METADATA_BYTES + 1, { abortSignal: deps.budget.signal });
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of download.readableStreamBody ?? []) {
      const buffer = Buffer.from(chunk as Buffer);
      received += buffer.length;
      if (received > MAX_DRIVER_METADATA_BYTES) {
        throw new TerminalActivityError(`The driver metadata is larger than ${MAX_DRIVER_METADATA_BYTES} bytes; not read`);
      }
      chunks.push(buffer);
    }
    text = Buffer.concat(chunks).toString("utf8");
  } catch (error) {
    if (error instanceof TerminalActivityError) throw error;
    throw toStorageOperationError("Downloading the driver metadata", error);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new TerminalActivityError("The driver metadata download is not JSON");
  }
}
