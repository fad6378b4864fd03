/**
 * Whether a resume may use the product and submission ids the caller named. Hardware Dev Center ids
 * say nothing about which package they belong to, so a resume is honoured only for ids this service
 * created (a claim under claims/<kind>/<id>, written when it created or adopted them) for this same
 * package version (the claim holds this instance's id, or one of its round keys). Anything else would
 * let package B "succeed" with package A's signed driver, or upload B into A's open submission.
 */
import { isRoundKeyOf } from "./instanceId";
import type { FieldProblem } from "./validation";

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

/** One problem per id that this package version (`instanceId`) may not resume; empty when both are its own. */
export function resumeOwnershipProblems(instanceId: string, resume: ResumeIds, claimants: ResumeClaimants): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const product = problemFor("productId", "product", resume.productId, claimants.product, instanceId);
  if (product) problems.push(product);
  if (resume.submissionId !== undefined) {
    const submission = problemFor("submissionId", "submission", resume.submissionId, claimants.submission, instanceId);
    if (submission) problems.push(submission);
  }
  return problems;
}
