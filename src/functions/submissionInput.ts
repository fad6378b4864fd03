/** Builds the orchestration input from a package, the user's overrides and configuration (read here, never in the orchestrator). */
import type { SignPreproductionInput, SubmitDriverInput } from "../activities/contract";
import type { PackageRef } from "../domain/types";
import type { PublishPolicy } from "../domain/publishing";
import type { AppConfig } from "../config";
import type { Owner } from "../domain/authorization";
import { notificationsConfigured } from "../notifications/queue";
import { newLabelApproval } from "./labelApproval";
import { harnessForExtension, packageBaseName, packageExtension } from "../domain/packageRules";
import { completeProductFields, type ProductFieldOverrides } from "./validation/productFields";

export interface SubmissionRequest {
  package: PackageRef;
  product?: ProductFieldOverrides;
  submissionName?: string;
  submissionType?: "initial" | "derived";
  resume?: { productId: string; submissionId?: string };
  /** Already validated with parsePublishPolicy. */
  publish?: PublishPolicy;
  requestedBy: SubmitDriverInput["requestedBy"];
  /** Who the submission belongs to; absent: operators only. */
  owner?: Owner;
}

export function buildSubmitDriverInput(request: SubmissionRequest, config: AppConfig): SubmitDriverInput {
  const extension = packageExtension(request.package.blobName);
  if (!extension) throw new Error(`Not a driver package: ${request.package.blobName}`);
  const baseName = packageBaseName(request.package.blobName);
  const product = completeProductFields(request.product, config.productDefaults, {
    productName: baseName,
    testHarness: harnessForExtension(extension),
  });
  return {
    package: request.package,
    product,
    submissionName: request.submissionName ?? baseName,
    submissionType: request.submissionType ?? "initial",
    ...(request.resume ? { resume: request.resume } : {}),
    // Every new input has its resume ids (given now, or carried by a restart) re-checked in the run.
    verifyResume: true,
    // Issue 37: the package rules are checked before anything is created at Microsoft (PREFLIGHT=off skips it).
    ...(config.settings.PREFLIGHT === "on" ? { preflight: true } : {}),
    // Issue 36: Microsoft's signed package is checked before the run is a success (VERIFY_SIGNED_PACKAGE=off skips it).
    ...(config.settings.VERIFY_SIGNED_PACKAGE === "on" ? { verifySignedPackage: true } : {}),
    polling: config.polling(product.testHarness),
    retry: config.retry,
    requestedBy: request.requestedBy,
    ...(request.owner ? { owner: request.owner } : {}),
    ...(notificationsConfigured(config) ? { notify: true } : {}),
    // Issue 34: a Windows Update label (or a configured partner's) waits for a second person; the
    // requester is the submission's owner (none for a drop nobody owns: any Sign.Approve holder decides).
    ...(request.publish ? { publish: { policy: request.publish, polling: config.labelPolling, ...newLabelApproval(request.publish, request.owner, config) } } : {}),
    // Issue 37: a dry-run policy shows its label at drop time, from the INFs preflight reads.
    ...(request.publish?.dryRun && config.settings.PREFLIGHT === "on" ? { labelPreview: true } : {}),
  };
}

/** The input of a preproduction run (issue 40): the package and the schedules; no product, no submission. */
export function buildSignPreproductionInput(
  request: { package: PackageRef; requestedBy: SignPreproductionInput["requestedBy"]; round?: number; owner?: Owner },
  config: AppConfig,
): SignPreproductionInput {
  return {
    signing: "preproduction",
    package: request.package,
    // Preprod signing is an automated pass, like attestation (no HLK review).
    polling: config.polling("attestation"),
    retry: config.retry,
    requestedBy: request.requestedBy,
    ...(request.owner ? { owner: request.owner } : {}),
    ...(request.round !== undefined && request.round > 1 ? { round: request.round } : {}),
    ...(notificationsConfigured(config) ? { notify: true } : {}),
  };
}
