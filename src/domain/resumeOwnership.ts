/**
 * Whether a resume may use the product and submission ids the caller named. Hardware Dev Center ids
 * say nothing about which package they belong to, so a resume is honoured only for ids this service
 * created (a claim under claims/<kind>/<id>, written when it created or adopted them) for this same
 * package version (the claim holds this instance's id, or one of its round keys). Anything else would
 * let package B "succeed" with package A's signed driver, or upload B into A's open submission.
 * With owners (issue 32), the run those ids belong to must also be the caller's: user B may not
 * resume user A's submission of the same package version.
 */
import { isRoundKeyOf } from "./instanceId";
import type { FieldProblem } from "./validation";
import { type Owner, type Scope, withinScope } from "./authorization";

export interface ResumeIds {
  productId: string;
  submissionId?: string;
}

/** Who holds the claims on the named ids (undefined: no claim recorded). */
export interface ResumeClaimants {
  product?: string;
  submission?: string;
}

const WHAT_A_RESUME_IS =
  "a resume continues only a product or submission this service created for this same package version (container, blob name and ETag)";

function problemFor(field: "productId" | "submissionId", noun: string, id: string, holder: string | undefined, instanceId: string): FieldProblem | undefined {
  if (holder !== undefined && isRoundKeyOf(holder, instanceId)) return undefined;
  const reason =
    holder === undefined
      ? `${noun} ${id} was not created by this service (no claim is recorded for it); ${WHAT_A_RESUME_IS}`
      : `${noun} ${id} was created for another package version (instance ${holder}); ${WHAT_A_RESUME_IS}`;
  return { field, reason };
}

/**
 * The caller asking to resume: its resume scope (undefined: it may not resume at all) and the owner
 * of this package version's run (undefined: a legacy or unowned run, or only checkpoints: operators only).
 */
export interface ResumeCaller {
  objectId: string;
  scope: Scope | undefined;
  runOwner: Owner | undefined;
}

/**
 * One problem per id that this package version (`instanceId`) may not resume; empty when both are its
 * own. With `caller`, ids of this version whose run the caller does not own are refused too.
 */
export function resumeOwnershipProblems(instanceId: string, resume: ResumeIds, claimants: ResumeClaimants, caller?: ResumeCaller): FieldProblem[] {
  const ownsRun = caller === undefined || (caller.scope !== undefined && withinScope(caller.scope, caller.objectId, caller.runOwner));
  const notOwned = (field: "productId" | "submissionId", noun: string, id: string): FieldProblem => ({
    field,
    reason: `${noun} ${id} belongs to a submission of this package version that the caller did not start; only its owner may resume it`,
  });
  const problems: FieldProblem[] = [];
  const product = problemFor("productId", "product", resume.productId, claimants.product, instanceId);
  if (product) problems.push(product);
  else if (!ownsRun) problems.push(notOwned("productId", "product", resume.productId));
  if (resume.submissionId !== undefined) {
    const submission = problemFor("submissionId", "submission", resume.submissionId, claimants.submission, instanceId);
    if (submission) problems.push(submission);
    else if (!ownsRun) problems.push(notOwned("submissionId", "submission", resume.submissionId));
  }
  return problems;
}
