/**
 * Re-checks, inside the orchestration and before anything is copied or committed, that the resume ids
 * are this package version's own (src/domain/resumeOwnership.ts). The HTTP trigger checked them too,
 * but the run may start later than the request (queued, restarted): a refused resume fails the run
 * terminally, before authenticate, with the reason per id.
 */
import { resumeOwnershipProblems } from "../domain/resumeOwnership";
import { resumeClaimants } from "../storage/checkpoints";
import type { CheckResumeClaimsInput, CheckResumeClaimsOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";

export async function checkResumeClaims(input: CheckResumeClaimsInput, deps: ActivityDeps): Promise<CheckResumeClaimsOutput> {
  const { instanceId, productId, submissionId } = input;
  const claimants = await resumeClaimants(deps.blobService, deps.config, { productId, submissionId });
  const problems = resumeOwnershipProblems(instanceId, { productId, submissionId }, claimants);
  if (problems.length > 0) {
    deps.log(`[${instanceId}] resume refused: ${problems.map((p) => p.field).join(", ")}`);
    throw new TerminalActivityError(`resume refused: ${problems.map((p) => `${p.field}: ${p.reason}`).join("; ")}`);
  }
  return { productId, ...(submissionId !== undefined ? { submissionId } : {}), owner: instanceId };
}
