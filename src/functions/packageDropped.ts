/**
 * Event Grid BlobCreated → start submitDriver for a package dropped in DROPS_CONTAINER.
 * The event is only a pointer: the handler reads the blob's real properties (existence, ETag, length)
 * and acts only when they match the event's ETag; then it reads the small optional sidecar (the
 * package itself is copied server-side by an activity). The instance id comes from the blob's real
 * version, so a redelivered event finds the instance it already started and does nothing.
 */
import { app, type EventGridEvent, type InvocationContext } from "@azure/functions";
import type { BlobServiceClient } from "@azure/storage-blob";
import * as df from "durable-functions";
import { CURRENT_SUBMIT_DRIVER } from "../orchestrators/versions";
import type { PackageRef } from "../domain/types";
import { type AppConfig, getConfig } from "../config";
import { instanceIdForPackage, normalizeEtag } from "../domain/instanceId";
import {
  blobNameProblem,
  isSidecarName,
  MAX_SIDECAR_BYTES,
  packageProblem,
  parseBlobSubject,
  sidecarNameFor,
} from "../domain/packageRules";
import { redactSecrets } from "../domain/redact";
import type { Owner } from "../domain/authorization";
import { dropOwnerFor } from "../domain/dropOwners";
import { getBlobServiceClient } from "../storage/blobService";
import { recordRejection } from "../storage/manifests";
import { storageStatusCode, toStorageOperationError, withStorageErrors } from "../storage/storageErrors";
import { readPurgeRecord } from "../storage/purgeRecords";
import { durableClientFor, findInstance, startOrFindRunning } from "../instances/durableClient";
import { instanceIdForRequest } from "./signingKind";
import { buildSignPreproductionInput, buildSubmitDriverInput } from "./submissionInput";
import { admitPackage } from "./uploadAdmission";
import { notificationsConfigured } from "../notifications/queue";
import { RECORD_REJECTED_DROP, type RecordRejectedDropInput } from "../orchestrators/recordRejectedDrop";
import { problemsFromZod } from "./validation/fieldProblems";
import { type Sidecar, sidecarSchema } from "./validation/productFields";
import { preprodCombinationProblems } from "./validation/signing";
import { SIGN_PREPRODUCTION_ORCHESTRATOR } from "../activities/contract";
import { parsePublishPolicy } from "../publishing/policySchema";
import { auditedDrop } from "./dropAudit";
import type { PublishPolicy } from "../domain/publishing";

export const BLOB_CREATED = "Microsoft.Storage.BlobCreated";

/** What the handler decided; returned so tests (and logs) can see the branch taken. */
export type DropDecision =
  | { action: "ignored"; reason: string }
  | { action: "rejected"; instanceId: string; reason: string }
  | { action: "alreadyStarted"; instanceId: string; runtimeStatus: string }
  | { action: "started"; instanceId: string }
  /** The event does not match storage (no such blob, another ETag, no ETag): nothing started or written. */
  | { action: "unverified"; reason: string };

type SidecarResult = { found: false } | { found: true; sidecar: Omit<Sidecar, "publish">; publish?: PublishPolicy } | { found: true; problem: string };


/** The optional `<package>.json`: at most 64 KiB of JSON matching sidecarSchema. */
async function readSidecar(service: BlobServiceClient, container: string, packageBlobName: string): Promise<SidecarResult> {
  const name = sidecarNameFor(packageBlobName);
  const blob = service.getContainerClient(container).getBlobClient(name);
  let size: number;
  try {
    size = (await blob.getProperties()).contentLength ?? 0;
  } catch (error) {
    if (storageStatusCode(error) === 404) return { found: false };
    throw toStorageOperationError(`Reading sidecar ${name}`, error);
  }
  if (size > MAX_SIDECAR_BYTES) return { found: true, problem: `sidecar ${name} is ${size} bytes; at most ${MAX_SIDECAR_BYTES} are allowed` };
  const content = size === 0 ? Buffer.alloc(0) : await withStorageErrors(`Reading sidecar ${name}`, () => blob.downloadToBuffer(0, size));
  let json: unknown;
  try {
    json = JSON.parse(content.toString("utf8"));
  } catch {
    return { found: true, problem: `sidecar ${name} is not valid JSON` };
  }
  const parsed = sidecarSchema.safeParse(json);
  if (!parsed.success) {
    const fields = problemsFromZod(parsed.error).map((p) => `${p.field} ${p.reason}`);
    return { found: true, problem: `sidecar ${name}: ${fields.join("; ")}` };
  }
  const { publish: rawPublish, ...fields } = parsed.data;
  if (rawPublish === undefined) return { found: true, sidecar: fields };
  // Validated before anything starts: a bad policy rejects the drop (manifest names publish.<field>).
  const publish = parsePublishPolicy(rawPublish);
  if (!publish.ok) return { found: true, problem: `sidecar ${name}: ${publish.problems.map((p) => `${p.field} ${p.reason}`).join("; ")}` };
  return { found: true, sidecar: fields, publish: publish.value };
}

type Verified = { ok: true; etag: string; contentLength: number } | { ok: false; reason: string };

/**
 * Reads the blob's real properties and holds them against the event: the blob must exist and its
 * ETag must be the one the event names. Event Grid always sends data.eTag for BlobCreated; an event
 * without one is not trusted with anything.
 */
async function verifyAgainstStorage(service: BlobServiceClient, location: { container: string; blobName: string }, data: Record<string, unknown>): Promise<Verified> {
  const claimed = typeof data.eTag === "string" && data.eTag.trim() !== "" ? normalizeEtag(data.eTag) : undefined;
  if (claimed === undefined) return { ok: false, reason: "the event has no data.eTag string, so it cannot be matched to a blob version" };
  const missing = { ok: false, reason: "the blob does not exist (deleted since the event, or never created)" } as const;
  let blob;
  try {
    blob = service.getContainerClient(location.container).getBlobClient(location.blobName);
  } catch {
    // The SDK cannot even address the name (e.g. ".." climbing out of the container): no such blob.
    return missing;
  }
  let properties;
  try {
    properties = await blob.getProperties();
  } catch (error) {
    const status = storageStatusCode(error);
    // 400: storage refuses the name itself, so no blob can exist under it.
    if (status === 404 || status === 400) return missing;
    throw toStorageOperationError(`Reading properties of ${location.container}/${location.blobName}`, error);
  }
  const actual = normalizeEtag(properties.etag ?? "");
  if (actual !== claimed) {
    // ETags are version stamps, not secrets: both are logged so a stale event can be told from a forged one.
    return { ok: false, reason: `the blob's ETag is ${actual}, the event names ${claimed.slice(0, 64)}: the blob was replaced since (its new version has its own event) or the event is not genuine` };
  }
  return { ok: true, etag: properties.etag ?? actual, contentLength: properties.contentLength ?? 0 };
}

async function reject(
  config: AppConfig,
  context: InvocationContext,
  instanceId: string,
  pkg: PackageRef,
  reason: string,
  owner: Owner | undefined,
): Promise<DropDecision> {
  context.warn(`packageDropped: rejected ${pkg.container}/${pkg.blobName}: ${redactSecrets(reason)}`);
  const manifest = await recordRejection(getBlobServiceClient(config), config, {
    outcome: "rejected",
    instanceId,
    package: pkg,
    messages: [],
    reason,
    finishedAt: new Date().toISOString(),
  });
  await listRejection(context, instanceId, { package: pkg, reason, manifest, ...(notificationsConfigured(config) ? { notify: true } : {}), ...(owner ? { owner } : {}) });
  return { action: "rejected", instanceId, reason };
}

/**
 * Makes the rejection visible in GET /api/submissions(/{id}): a recordRejectedDrop instance under the
 * same id. Best effort (the manifest is the record): a redelivered event finds it and starts nothing.
 */
async function listRejection(context: InvocationContext, instanceId: string, input: RecordRejectedDropInput): Promise<void> {
  try {
    const client = durableClientFor(context);
    if (await findInstance(client, instanceId)) return;
    await startOrFindRunning(client, RECORD_REJECTED_DROP, instanceId, input);
  } catch (error) {
    context.warn(`packageDropped: could not list the rejection of ${instanceId}: ${redactSecrets(error instanceof Error ? error.message : String(error))}`);
  }
}

export async function handlePackageDropped(event: EventGridEvent, context: InvocationContext): Promise<DropDecision> {
  const decide = (decision: DropDecision): DropDecision => {
    context.log(`packageDropped: ${decision.action}${"reason" in decision ? ` (${decision.reason})` : ""}${"instanceId" in decision ? ` ${decision.instanceId}` : ""}`);
    return decision;
  };
  const config = getConfig();
  if (event.eventType !== BLOB_CREATED) return decide({ action: "ignored", reason: `event type ${event.eventType}` });
  const location = parseBlobSubject(event.subject ?? "");
  if (!location) return decide({ action: "ignored", reason: "subject is not a blob path" });
  if (location.container !== config.settings.DROPS_CONTAINER) {
    return decide({ action: "ignored", reason: `container ${location.container} is not ${config.settings.DROPS_CONTAINER}` });
  }
  // A sidecar belongs to its package and is read when the package arrives.
  if (isSidecarName(location.blobName)) return decide({ action: "ignored", reason: "sidecar" });

  // The event only says which blob version to look at; what is started comes from storage itself.
  const verified = await verifyAgainstStorage(getBlobServiceClient(config), location, event.data ?? {});
  if (!verified.ok) {
    // Answered 200 (nothing thrown): the event is stale (the blob was deleted or replaced since; a
    // replacement has an event of its own) or not about a real blob at all, and Event Grid redelivering
    // it would find the same. Nothing is written for a blob that is not there: no manifest, no record.
    context.warn(`packageDropped: nothing started for ${location.container}/${redactSecrets(location.blobName.slice(0, 256))}: ${verified.reason}`);
    return decide({ action: "unverified", reason: verified.reason });
  }
  const pkg: PackageRef = { container: location.container, blobName: location.blobName, etag: verified.etag, contentLength: verified.contentLength };
  // From the blob's real ETag, never from the event id: one instance per stored version.
  // A preprod drop's own id is chosen once its sidecar is read (below); rejections before that use this one.
  let instanceId = instanceIdForPackage(location.container, location.blobName, verified.etag);
  // Whose drop (issue 32), as far as known before the upload record is read: the DROP_OWNERS owner of its prefix.
  const configuredOwner = dropOwnerFor(config.settings.DROP_OWNERS, location.container, location.blobName);

  const nameProblem = blobNameProblem(location.blobName);
  if (nameProblem) return decide(await reject(config, context, instanceId, pkg, `blobName ${nameProblem}`, configuredOwner));
  const problem = packageProblem(location.blobName, verified.contentLength);
  if (problem) {
    const field = verified.contentLength === 0 && problem.startsWith("is empty") ? "contentLength" : "blobName";
    return decide(await reject(config, context, instanceId, pkg, `${field}: package ${problem}`, configuredOwner));
  }

  // Size limit, and for a POST /api/uploads blob: the claimed size and the pinned ETag (pinned now if first).
  const admission = await admitPackage(getBlobServiceClient(config), config, { ...location, etag: verified.etag, contentLength: verified.contentLength }, new Date().toISOString());
  if (!admission.ok) return decide(await reject(config, context, instanceId, pkg, `${admission.field}: ${admission.reason}`, configuredOwner));
  if (admission.sha256) pkg.sha256 = admission.sha256;
  // Whose package (issue 32): the caller who asked for its upload URL, else the DROP_OWNERS owner of its
  // container/prefix; neither: operators only.
  const owner = admission.owner ?? configuredOwner;

  const client = durableClientFor(context);
  const sidecar = await readSidecar(getBlobServiceClient(config), location.container, location.blobName);
  if (sidecar.found && "sidecar" in sidecar) {
    instanceId = await instanceIdForRequest(client, location, verified.etag, sidecar.sidecar.signing, (id) => readPurgeRecord(getBlobServiceClient(config), config, id));
  }
  const existing = await findInstance(client, instanceId);
  if (existing) return decide({ action: "alreadyStarted", instanceId, runtimeStatus: String(existing.runtimeStatus) });
  // A redelivered event for a version whose run retention purged: it ran; a drop never restarts a run (issue 30).
  const purged = await readPurgeRecord(getBlobServiceClient(config), config, instanceId);
  if (purged) return decide({ action: "alreadyStarted", instanceId, runtimeStatus: purged.runtimeStatus });
  // Event Grid sends one event per stored version, so another delivery for it is a redelivery: it finds the run
  // the first one started even when the sidecar's `signing` changed in between (that run has the other kind's id).
  const otherDrop = await dropRunOfOtherKind(client, location, verified.etag, instanceId);
  if (otherDrop) return decide({ action: "alreadyStarted", instanceId: otherDrop.instanceId, runtimeStatus: otherDrop.runtimeStatus });

  if (sidecar.found && "problem" in sidecar) return decide(await reject(config, context, instanceId, pkg, sidecar.problem, owner));
  const fields: Omit<Sidecar, "publish"> = sidecar.found ? sidecar.sidecar : {};
  const publish = sidecar.found && "publish" in sidecar ? sidecar.publish : undefined;
  const { submissionName, submissionType, signing, ...product } = fields;
  if (signing === "preproduction") {
    const combination = preprodCombinationProblems({ ...fields, publish });
    if (combination.length > 0) {
      return decide(await reject(config, context, instanceId, pkg, `sidecar ${sidecarNameFor(location.blobName)}: ${combination.map((p) => `${p.field} ${p.reason}`).join("; ")}`, owner));
    }
    const preprodInput = buildSignPreproductionInput({ package: pkg, requestedBy: "eventGrid", owner }, config);
    const started = await startOrFindRunning(client, SIGN_PREPRODUCTION_ORCHESTRATOR, instanceId, preprodInput);
    if (!started.started) return decide({ action: "alreadyStarted", instanceId, runtimeStatus: started.runtimeStatus });
    return decide({ action: "started", instanceId });
  }

  const input = buildSubmitDriverInput({ package: pkg, product, submissionName, submissionType, publish, requestedBy: "eventGrid", owner }, config);
  // Two deliveries may race past getStatus: then the other one started it.
  const start = await startOrFindRunning(client, CURRENT_SUBMIT_DRIVER, instanceId, input);
  if (!start.started) return decide({ action: "alreadyStarted", instanceId, runtimeStatus: start.runtimeStatus });
  return decide({ action: "started", instanceId });
}

/** A run a drop of this version started under the other signing kind's id, if there is one. */
async function dropRunOfOtherKind(
  client: ReturnType<typeof durableClientFor>,
  location: { container: string; blobName: string },
  etag: string,
  instanceId: string,
): Promise<{ instanceId: string; runtimeStatus: string } | undefined> {
  const ids = [instanceIdForPackage(location.container, location.blobName, etag), instanceIdForPackage(location.container, location.blobName, etag, "preproduction")];
  for (const id of ids.filter((candidate) => candidate !== instanceId)) {
    const status = await findInstance(client, id, { showInput: true });
    if ((status?.input as { requestedBy?: unknown } | undefined)?.requestedBy === "eventGrid") return { instanceId: id, runtimeStatus: String(status!.runtimeStatus) };
  }
  return undefined;
}

app.eventGrid("packageDropped", {
  extraInputs: [df.input.durableClient()],
  handler: async (event, context) => {
    await auditedDrop(event, context, handlePackageDropped);
  },
});
