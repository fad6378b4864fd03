/**
 * GET /api/submissions/{id}/signed-package, /driver-metadata, /manifest and /error-report (Microsoft's
 * whole error report of a failed submission, issue 29): a 302 to a read-only SAS
 * (15 minutes) on that result blob, so a client holding only the function key can fetch results.
 * 404 when there is no such submission (or it has no such file), 409 when the file does not exist
 * yet (the body names the stage). The SAS appears only in the Location header.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { BlobLocation } from "../domain/types";
import { getConfig } from "../config";
import type { SubmitDriverSummary } from "../domain/types";
import { isValidInstanceId } from "../domain/instanceId";
import { getBlobServiceClient } from "../storage/blobService";
import { withStorageErrors } from "../storage/storageErrors";
import { createDownloadSasUrl } from "../storage/userSas";
import { durableClientFor, findInstance } from "../instances/durableClient";
import { toSubmissionView } from "../domain/submissionView";
import { invalidRequest } from "./validation/fieldProblems";
import type { HttpFunctionName } from "../domain/requestLimits";
import { bodyLimited } from "./requestBody";
import { mayTouchInstance } from "./access";
import { HTTP_AUTH_LEVEL } from "./callerGate";

/** Route segment → the result it serves. */
export const RESULT_FILES = {
  "signed-package": "signedPackage",
  "driver-metadata": "driverMetadata",
  manifest: "manifest",
  "error-report": "errorReportBlob",
} as const;
const FUNCTION_NAMES: Record<ResultFileRoute, HttpFunctionName> = {
  "signed-package": "signedPackageLink",
  "driver-metadata": "driverMetadataLink",
  manifest: "manifestLink",
  "error-report": "errorReportLink",
};
export type ResultFileRoute = keyof typeof RESULT_FILES;

export async function handleResultFile(route: ResultFileRoute, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([{ field: "id", reason: "must be 1-100 letters, digits, '-' or '_'" }]);
  // `?as=json`: the dashboard's download button. A browser fetch cannot read a 302's Location, and
  // following it would carry the x-functions-key header to storage; so it gets the link as JSON and
  // navigates to it (an attachment download straight from storage, never shown in the page).
  const as = request.query.get("as");
  if (as !== null && as !== "json") return invalidRequest([{ field: "as", reason: "must be json (or absent for a 302)" }]);
  const status = await findInstance(durableClientFor(context), id, { showInput: true });
  if (!status || !mayTouchInstance(context, "submission.files", status)) return { status: 404, jsonBody: { error: `no submission with id ${id}` } };

  const view = toSubmissionView(status);
  const summary =
    view.runtimeStatus === "Completed" && status.output && typeof status.output === "object" ? (status.output as Partial<SubmitDriverSummary>) : undefined;
  const kind = RESULT_FILES[route];
  const location: BlobLocation | undefined =
    kind === "signedPackage"
      ? view.signedPackage
      : kind === "manifest"
        ? view.manifest
        : kind === "errorReportBlob"
          ? view.errorReportBlob
          : summary?.driverMetadata;

  if (!location) {
    const finished = view.stage === "succeeded" || view.stage === "failed" || view.stage === "terminated" || view.stage === "rejected";
    if (kind === "driverMetadata" && view.stage === "succeeded") {
      return { status: 404, jsonBody: { error: `submission ${id} is signed but Microsoft offered no driver metadata`, stage: view.stage } };
    }
    if (kind === "errorReportBlob" && finished) {
      return { status: 404, jsonBody: { error: `submission ${id} has no copied error report (it ended at stage ${view.stage})`, stage: view.stage } };
    }
    const reason = finished
      ? `submission ${id} ended at stage ${view.stage} without a ${kind}`
      : `submission ${id} has no ${kind} yet: it is at stage ${view.stage}`;
    return { status: 409, jsonBody: { error: reason, stage: view.stage, runtimeStatus: view.runtimeStatus } };
  }

  const service = getBlobServiceClient(getConfig());
  const fileName = location.blobName.split("/").pop() || kind;
  const disposition = as === "json" ? `attachment; filename="${fileName.replace(/["\\\r\n]/g, "_")}"` : undefined;
  const sas = await withStorageErrors(`Signing a download URL for ${location.container}/${location.blobName}`, () =>
    createDownloadSasUrl(service, location.container, location.blobName, disposition),
  );
  if (as === "json") {
    context.log(`submissionFiles: link to ${kind} of ${id} (${location.container}/${location.blobName}) as JSON`);
    return { status: 200, headers: { "cache-control": "no-store" }, jsonBody: { url: sas.url, expiresOn: sas.expiresOn.toISOString(), fileName } };
  }
  context.log(`submissionFiles: redirecting to ${kind} of ${id} (${location.container}/${location.blobName})`);
  return { status: 302, headers: { location: sas.url, "cache-control": "no-store" } };
}

for (const route of Object.keys(RESULT_FILES) as ResultFileRoute[]) {
  app.http(FUNCTION_NAMES[route], {
    route: `submissions/{id}/${route}`,
    methods: ["GET"],
    authLevel: HTTP_AUTH_LEVEL,
    extraInputs: [df.input.durableClient()],
    handler: bodyLimited(FUNCTION_NAMES[route], "submission.files", (request, context) => handleResultFile(route, request, context)),
  });
}
