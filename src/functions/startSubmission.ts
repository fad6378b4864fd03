/**
 * POST /api/submissions: sign a package already in storage, or resume by product/submission id.
 * Validates the body, HEADs the package blob (existence, size, ETag), then starts the orchestration
 * under the same instance id a blob drop of that kind would get, so the two entry points cannot double-submit.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { CURRENT_SUBMIT_DRIVER } from "../orchestrators/versions";
import { type AppConfig, getConfig } from "../config";
import { isHostContainer } from "../domain/packageRules";
import { resumeOwnershipProblems } from "../domain/resumeOwnership";
import { getBlobServiceClient } from "../storage/blobService";
import { peekCheckpoint, resumeClaimants } from "../storage/checkpoints";
import { readPurgeRecord } from "../storage/purgeRecords";
import { storageStatusCode, toStorageOperationError } from "../storage/storageErrors";
import { durableClientFor, findInstance, startOrFindRunning, TERMINAL_RUNTIME_STATUSES } from "../instances/durableClient";
import { buildSignPreproductionInput, buildSubmitDriverInput } from "./submissionInput";
import { admitPackage } from "./uploadAdmission";
import { isPreprodName } from "../orchestrators/versions";
import { SIGN_PREPRODUCTION_ORCHESTRATOR, type SignPreproductionInput } from "../activities/contract";
import { RECORD_REJECTED_DROP } from "../orchestrators/recordRejectedDrop";
import { bodyLimited, readJsonBody } from "./requestBody";
import { HTTP_AUTH_LEVEL } from "./callerGate";
import { mayTouch, ownerOfCaller, scopeFor } from "./access";
import { noteAudit, refusedAsNotFound } from "./auditTrail";
import { callerOf } from "../identity/caller";
import { ownerIn } from "../domain/authorization";
import { dropOwnerFor } from "../domain/dropOwners";
import { apiLink } from "./publicUrls";
import { failedSubmissionOf, type PreviousRun, previousRunOf, previousRunOfRecord, restartInput } from "./restartPolicy";
import { instanceIdForRequest, signingClashResponse } from "./signingKind";
import { invalidRequest } from "./validation/fieldProblems";
import { parseStartSubmission } from "./validation/startSubmission";
import type { FieldProblem } from "../domain/validation";

/**
 * Our own status endpoint (function-key protected like this one). The Durable extension's management
 * URLs (createCheckStatusResponse / createHttpManagementPayload) carry the extension's system key in
 * Azure, which opens every instance of the hub to terminate/purge: they are never handed out here.
 */
export function statusUrlFor(config: AppConfig, instanceId: string): string {
  return apiLink(config, `/api/submissions/${encodeURIComponent(instanceId)}`);
}

export function cancelUrlFor(config: AppConfig, instanceId: string): string {
  return `${statusUrlFor(config, instanceId)}/cancel`;
}

/** Containers POST /api/submissions may read packages from; the app's and the host's own are never among them. */
export function submissionContainerProblem(container: string, config: AppConfig, taskHubName?: string): string | undefined {
  const { DROPS_CONTAINER, SIGNED_CONTAINER, STATE_CONTAINER, AUDIT_CONTAINER, SUBMISSION_CONTAINERS } = config.settings;
  if (container === SIGNED_CONTAINER || container === STATE_CONTAINER || container === AUDIT_CONTAINER || isHostContainer(container, taskHubName)) {
    return `container ${container} belongs to the app or the Functions host; packages are not read from it`;
  }
  const allowed = SUBMISSION_CONTAINERS ?? [DROPS_CONTAINER];
  return allowed.includes(container) ? undefined : `container ${container} is not one of the submission containers (${allowed.join(", ")})`;
}

export async function handleStartSubmission(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await readJsonBody(request);
  if (!body.ok) return body.response;
  const parsed = parseStartSubmission(body.value);
  if (!parsed.ok) return invalidRequest(parsed.problems);
  const { package: location, ...rest } = parsed.value;
  // A start with productId/submissionId is a resume (its own action in the audit trail).
  noteAudit(context, { ...(rest.resume ? { action: "submission.resume" as const } : {}), target: { package: `${location.container}/${location.blobName}` } });

  const config = getConfig();
  const client = durableClientFor(context);
  // Checked before storage is touched: nothing is read from a container the caller may not name.
  const containerProblem = submissionContainerProblem(location.container, config, client.taskHubName);
  if (containerProblem) return invalidRequest([{ field: "package", reason: containerProblem }]);

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
  // Size limit, and for a POST /api/uploads blob: the claimed size and the pinned ETag (pinned now if first).
  // Issue 32: an upload URL's package is its requester's, a drop under DROP_OWNERS its owner's; the
  // caller who may not start it is told the package is not found, as if it did not exist.
  const packageNotFound = (): HttpResponseInit =>
    refusedAsNotFound(context, { status: 404, jsonBody: { error: "package not found", package: `${location.container}/${location.blobName}` } });
  const owner = ownerOfCaller(callerOf(context));
  // DROP_OWNERS claims prefixes in any submission container, not only the drops container.
  const configuredOwner = dropOwnerFor(config.settings.DROP_OWNERS, location.container, location.blobName);
  if (configuredOwner && !mayTouch(context, "submission.start", configuredOwner)) return packageNotFound();
  const admission = await admitPackage(
    getBlobServiceClient(config),
    config,
    { ...location, etag, contentLength: properties.contentLength },
    new Date().toISOString(),
    (uploadOwner) => mayTouch(context, "submission.start", uploadOwner),
  );
  if (!admission.ok && admission.notYours) return packageNotFound();
  // A package in the drops container that neither an upload URL nor DROP_OWNERS claims is a drop, and
  // drops nobody claims are the operators' (as packageDropped records them): an HTTP start that beats
  // the Event Grid delivery must not make it the caller's.
  if (admission.ok && !admission.owner && !configuredOwner && location.container === config.settings.DROPS_CONTAINER && !mayTouch(context, "submission.start", undefined)) {
    return packageNotFound();
  }
  if (!admission.ok) {
    context.warn(`startSubmission: refused ${location.container}/${location.blobName}: ${admission.reason}`);
    if (!admission.changed) return invalidRequest([{ field: admission.field, reason: admission.reason }]);
    return { status: 409, jsonBody: { error: "the package changed after it was pinned", package: `${location.container}/${location.blobName}`, fields: [{ field: admission.field, reason: admission.reason }] } };
  }
  // Always derived from the blob version and the signing kind, never chosen by the caller: a drop and
  // an HTTP start of the same version and kind, or two HTTP starts, land on one instance.
  const instanceId = await instanceIdForRequest(client, location, etag, rest.signing, (id) => readPurgeRecord(getBlobServiceClient(config), config, id));
  const links = { statusUrl: statusUrlFor(config, instanceId), cancelUrl: cancelUrlFor(config, instanceId) };

  const alreadyRunning = (runtimeStatus: string): HttpResponseInit => ({
    status: 409,
    jsonBody: { error: "a submission for this package is already in progress", id: instanceId, runtimeStatus, ...links },
  });
  const resumeRefused = (problems: FieldProblem[]): HttpResponseInit => {
    context.warn(`startSubmission: resume refused for ${location.container}/${location.blobName}: ${problems.map((p) => p.field).join(", ")}`);
    return {
      status: 409,
      jsonBody: {
        error: "resume refused: productId/submissionId were not created by this service for this package version, or not for a submission the caller owns",
        package: `${location.container}/${location.blobName}`,
        fields: problems,
      },
    };
  };
  const claimants = rest.resume ? await resumeClaimants(getBlobServiceClient(config), config, rest.resume) : undefined;
  if (rest.resume && claimants) {
    // Ids are checked against what this service created for this package version before anything
    // starts (the run checks again in checkResumeClaims). 409: the ids exist but are not this version's.
    const problems = resumeOwnershipProblems(instanceId, rest.resume, claimants);
    if (problems.length > 0) return resumeRefused(problems);
  }
  const found = await findInstance(client, instanceId, { showInput: true });
  // A drop of this version that the trigger rejected (e.g. an invalid sidecar) is only a record: start afresh.
  const existing = found?.name === RECORD_REJECTED_DROP ? undefined : found;
  // No instance: retention may have purged an earlier run of this version. Its checkpoints and claims
  // outlive the purge, so a plain round-1 start would resume whatever that run left (issue 30).
  const purged = existing ? undefined : await readPurgeRecord(getBlobServiceClient(config), config, instanceId);
  // An earlier run of this version is its owner's to restart or resume (legacy runs: operators only, who do not start).
  const runOwner = existing ? ownerIn(existing.input) : purged?.input.owner;
  if ((existing || purged) && !mayTouch(context, "submission.start", runOwner)) return packageNotFound();
  if (rest.resume && claimants) {
    // The ids are this version's: the run they belong to must be the caller's too (issue 32); with no
    // run left to say whose (checkpoints only), only a key holder may resume them.
    const problems = resumeOwnershipProblems(instanceId, rest.resume, claimants, {
      objectId: callerOf(context).objectId,
      scope: scopeFor(context, "submission.resume"),
      runOwner,
    });
    if (problems.length > 0) return resumeRefused(problems);
  }
  const clash = signingClashResponse(existing?.name, rest.signing, instanceId, `${location.container}/${location.blobName}`);
  if (clash) return clash;
  if (existing && !TERMINAL_RUNTIME_STATUSES.has(String(existing.runtimeStatus))) return alreadyRunning(String(existing.runtimeStatus));
  const purgedClash = signingClashResponse(purged?.name, rest.signing, instanceId, `${location.container}/${location.blobName}`);
  if (purgedClash) return purgedClash;
  const purgedFacts = purged ? { historyPurgedAt: purged.purgedAt } : {};
  const previousRuntimeStatus = existing ? String(existing.runtimeStatus) : purged?.runtimeStatus;
  if (previousRuntimeStatus === "Completed") {
    // This package version is already signed: answer with where it is, start nothing.
    // A `publish` here would be silently dropped: say where publishing a signed submission goes.
    const publishHint = rest.publish ? { publish: `not started: this version is already signed; POST ${links.statusUrl}/labels with the policy` } : {};
    const where = purged ? {} : { statusUrl: links.statusUrl }; // a purged instance has no status to show
    return { status: 200, jsonBody: { id: instanceId, runtimeStatus: "Completed", alreadySigned: true, ...where, ...purgedFacts, ...publishHint } };
  }
  if (!existing && !purged && !rest.resume) {
    // Checkpoints without an instance or a purge record: the history went some other way (a purge
    // before purge records existed, or by hand). Whether Microsoft failed that submission cannot be
    // told, so it is neither resumed as if new nor silently replaced.
    const orphan = await peekCheckpoint(getBlobServiceClient(config), config, instanceId);
    if (orphan.product?.productId || orphan.submission?.submissionId) return orphanRefusal(instanceId, `${location.container}/${location.blobName}`, orphan);
  }

  let previous: PreviousRun | undefined;
  if (existing) previous = previousRunOf(existing);
  else if (purged) previous = previousRunOfRecord(purged);
  const failedSubmission = previous ? failedSubmissionOf(previous) : undefined;
  if (failedSubmission !== undefined && rest.resume?.submissionId === failedSubmission) {
    return {
      status: 409,
      jsonBody: {
        error: `resume refused: Microsoft failed submission ${failedSubmission}; resuming it can only fail again`,
        package: `${location.container}/${location.blobName}`,
        fields: [
          {
            field: "submissionId",
            reason:
              `submission ${failedSubmission} was failed by Microsoft in the earlier run of this package version` +
              (purged ? ` (its history was purged by retention on ${purged.purgedAt})` : "") +
              "; re-post without submissionId to start a new submission (the next round)",
          },
        ],
        ...purgedFacts,
      },
    };
  }

  if (rest.signing === "preproduction") {
    // Preproduction signing (issue 40): its own orchestration; a re-post after a failed one is a new round.
    const pkg = { ...location, etag, contentLength: properties.contentLength, ...(admission.sha256 ? { sha256: admission.sha256 } : {}) };
    let round: number | undefined;
    if (existing && isPreprodName(existing.name)) {
      round = ((existing.input as Partial<SignPreproductionInput> | undefined)?.round ?? 1) + 1;
    } else if (purged) round = (purged.input.round ?? 1) + 1; // after retention: its record says which round ended
    const preprodInput = buildSignPreproductionInput({ package: pkg, requestedBy: "http", round, owner: owner ?? runOwner }, config);
    const started = await startOrFindRunning(client, SIGN_PREPRODUCTION_ORCHESTRATOR, instanceId, preprodInput);
    if (!started.started) return alreadyRunning(started.runtimeStatus);
    context.log(`startSubmission: started preproduction signing ${instanceId} for ${location.container}/${location.blobName}${round ? ` (round ${round})` : ""}`);
    return {
      status: 202,
      headers: { Location: links.statusUrl, "Retry-After": "10" },
      jsonBody: { id: instanceId, runtimeStatus: "Pending", signing: "preproduction", ...(existing ? { restarted: true } : {}), ...links },
    };
  }

  let input = buildSubmitDriverInput(
    { ...rest, package: { ...location, etag, contentLength: properties.contentLength, ...(admission.sha256 ? { sha256: admission.sha256 } : {}) }, requestedBy: "http", owner },
    config,
  );
  let newSubmission = false;
  if (previous) {
    // Failed or terminated before: resume it, or (Microsoft failed the submission) start a new round.
    ({ input, newSubmission } = restartInput(input, previous, rest.resume !== undefined));
  }
  const start = await startOrFindRunning(client, CURRENT_SUBMIT_DRIVER, instanceId, input);
  if (!start.started) return alreadyRunning(start.runtimeStatus);
  context.log(
    `startSubmission: started ${instanceId} for ${location.container}/${location.blobName}` +
      (previous
        ? ` (restart after ${previous.runtimeStatus}${purged ? ` purged on ${purged.purgedAt}` : ""}: ${newSubmission ? `new submission, round ${input.round}` : "resuming"})`
        : ""),
  );
  return {
    status: 202,
    headers: { Location: links.statusUrl, "Retry-After": "10" },
    jsonBody: { id: instanceId, runtimeStatus: "Pending", ...(previous ? { restarted: true, newSubmission } : {}), ...purgedFacts, ...links },
  };
}

function orphanRefusal(instanceId: string, pkg: string, orphan: { product?: { productId?: string }; submission?: { submissionId?: string } }): HttpResponseInit {
  const ids = [orphan.product?.productId ? `product ${orphan.product.productId}` : "", orphan.submission?.submissionId ? `submission ${orphan.submission.submissionId}` : ""]
    .filter(Boolean)
    .join(", ");
  return {
    status: 409,
    jsonBody: {
      error:
        `not started: an earlier run of this package version created ${ids}, but its history was purged and no purge record says how it ended, ` +
        "so it is neither resumed as if new nor replaced",
      id: instanceId,
      package: pkg,
      howToStartOver:
        "upload the package again (a new blob version starts a clean run), or, if that run failed on this side, resume it explicitly with its productId and submissionId",
    },
  };
}

app.http("startSubmission", {
  route: "submissions",
  methods: ["POST"],
  authLevel: HTTP_AUTH_LEVEL,
  extraInputs: [df.input.durableClient()],
  handler: bodyLimited("startSubmission", "submission.start", handleStartSubmission),
});
