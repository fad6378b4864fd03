/**
 * POST /api/submissions: sign a package already in storage, or resume by product/submission id.
 * Validates the body, HEADs the package blob (existence, size, ETag), then starts the orchestration
 * under the same instance id a blob drop would get, so the two entry points cannot double-submit.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { ORCHESTRATOR_NAME } from "../activities/contract";
import { getConfig } from "../config";
import { instanceIdForPackage } from "../shared/instanceId";
import { getBlobServiceClient } from "../storage/blobService";
import { storageStatusCode, toStorageOperationError } from "../storage/storageErrors";
import { durableClientFor, findInstance, isConflictError, TERMINAL_RUNTIME_STATUSES } from "./durableClient";
import { buildSubmitDriverInput } from "./submissionInput";
import { invalidRequest } from "./validation/fieldProblems";
import { parseStartSubmission } from "./validation/startSubmission";

/** Our own status endpoint (function-key protected like this one, unlike the system-key webhook). */
export function statusUrlFor(request: HttpRequest, instanceId: string): string {
  return new URL(`/api/submissions/${encodeURIComponent(instanceId)}`, new URL(request.url).origin).href;
}

export async function handleStartSubmission(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return invalidRequest([{ field: "body", reason: "must be a JSON object" }]);
  }
  const parsed = parseStartSubmission(body);
  if (!parsed.ok) return invalidRequest(parsed.problems);
  const { package: location, ...rest } = parsed.value;

  const config = getConfig();
  let properties;
  try {
    properties = await getBlobServiceClient(config).getContainerClient(location.container).getBlobClient(location.blobName).getProperties();
  } catch (error) {
    if (storageStatusCode(error) === 404) {
      return { status: 404, jsonBody: { error: "package not found", package: `${location.container}/${location.blobName}` } };
    }
    throw toStorageOperationError(`Reading properties of package ${location.container}/${location.blobName}`, error);
  }
  if (!properties.contentLength) return invalidRequest([{ field: "package", reason: "is empty (0 bytes)" }]);
  const etag = properties.etag ?? "";
  // Always derived from the blob version, never chosen by the caller: a drop and an HTTP start of
  // the same version, or two HTTP starts, land on one instance (and one set of checkpoints).
  const instanceId = instanceIdForPackage(location.container, location.blobName, etag);

  const client = durableClientFor(context);
  const alreadyRunning = (runtimeStatus: string): HttpResponseInit => ({
    status: 409,
    jsonBody: {
      ...client.createHttpManagementPayload(instanceId),
      error: "a submission for this package is already in progress",
      id: instanceId,
      runtimeStatus,
      statusUrl: statusUrlFor(request, instanceId),
    },
  });
  const existing = await findInstance(client, instanceId);
  if (existing && !TERMINAL_RUNTIME_STATUSES.has(String(existing.runtimeStatus))) return alreadyRunning(String(existing.runtimeStatus));
  if (existing?.runtimeStatus === "Completed") {
    // This package version is already signed: answer with where it is, start nothing. A failed or
    // terminated run may be started again; its checkpoints resume the same product and submission.
    return {
      status: 200,
      jsonBody: { id: instanceId, runtimeStatus: "Completed", alreadySigned: true, statusUrl: statusUrlFor(request, instanceId) },
    };
  }

  const input = buildSubmitDriverInput(
    { ...rest, package: { ...location, etag, contentLength: properties.contentLength }, requestedBy: "http" },
    config,
  );
  try {
    await client.startNew(ORCHESTRATOR_NAME, { instanceId, input });
  } catch (error) {
    if (isConflictError(error)) return alreadyRunning("Running");
    throw error;
  }
  context.log(`startSubmission: started ${instanceId} for ${location.container}/${location.blobName}`);

  const accepted = client.createCheckStatusResponse(request, instanceId);
  const managementUrls = (await accepted.json()) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  accepted.headers.forEach((value, key) => {
    headers[key] = value;
  });
  return {
    status: 202,
    headers,
    jsonBody: { ...managementUrls, id: instanceId, statusUrl: statusUrlFor(request, instanceId) },
  };
}

app.http("startSubmission", {
  route: "submissions",
  methods: ["POST"],
  authLevel: "function",
  extraInputs: [df.input.durableClient()],
  handler: handleStartSubmission,
});
