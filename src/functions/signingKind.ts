/**
 * Which run a request for one package version and one signing kind belongs to (issue 40).
 *
 * A product run and a preproduction run of the same version have ids of their own
 * (instanceIdForPackage says why), so asking for one kind never answers with, resumes or replaces
 * the other's run. Runs started before that was so share the product id: a preprod run found there
 * is still this version's preprod run (a re-post finds it instead of sending a second package), and
 * a product request that meets it is refused with 409 naming `signing` and the kind that exists.
 */
import type { HttpResponseInit } from "@azure/functions";
import { instanceIdForPackage } from "../domain/instanceId";
import type { SigningKind } from "../domain/preprod";
import { findInstance, type SubmissionsClient } from "../instances/durableClient";
import { isPreprodName, isSubmitDriverName } from "../orchestrators/versions";
import type { FieldProblem } from "./validation/fieldProblems";

/** The kind of run an orchestration is; undefined for anything else (a rejected-drop record, labels). */
export function runKindOf(name: string | undefined): SigningKind | undefined {
  if (isPreprodName(name)) return "preproduction";
  if (isSubmitDriverName(name)) return "product";
  return undefined;
}

/**
 * The instance id for `signing` of this version: its kind's own, or the shared product id of an older
 * preprod run (its history, or retention's record of it once purged).
 */
export async function instanceIdForRequest(
  client: SubmissionsClient,
  location: { container: string; blobName: string },
  etag: string,
  signing: "preproduction" | undefined,
  readPurged: (instanceId: string) => Promise<{ name?: string } | undefined>,
): Promise<string> {
  const productId = instanceIdForPackage(location.container, location.blobName, etag);
  if (signing !== "preproduction") return productId;
  const preprodId = instanceIdForPackage(location.container, location.blobName, etag, "preproduction");
  if (await findInstance(client, preprodId)) return preprodId;
  const shared = (await findInstance(client, productId)) ?? (await readPurged(productId));
  return isPreprodName(shared?.name) ? productId : preprodId;
}

/** `signing` when the run under this id is of another kind than asked for. */
export function signingClashProblem(existingName: string | undefined, signing: "preproduction" | undefined, instanceId: string): FieldProblem | undefined {
  const existing = runKindOf(existingName);
  const wanted: SigningKind = signing ?? "product";
  if (existing === undefined || existing === wanted) return undefined;
  return {
    field: "signing",
    reason:
      `a ${existing} signing run (${instanceId}) already holds this package version's id; it is not answered for a ${wanted} request, ` +
      `nor replaced by one. Upload the package again (a new version) to sign it as ${wanted}`,
  };
}

/** 409 for POST /api/submissions when the id holds the other kind; undefined when it does not. */
export function signingClashResponse(
  existingName: string | undefined,
  signing: "preproduction" | undefined,
  instanceId: string,
  packageRef: string,
): HttpResponseInit | undefined {
  const problem = signingClashProblem(existingName, signing, instanceId);
  if (!problem) return undefined;
  return {
    status: 409,
    jsonBody: { error: "this package version already has a run of another signing kind", id: instanceId, signing: runKindOf(existingName), package: packageRef, fields: [problem] },
  };
}
