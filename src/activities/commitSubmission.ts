/**
 * Commits the submission. The API is not idempotent ("Only pending submissions can be committed")
 * and a 502 can arrive after the commit took effect (a.8), so an ambiguous answer is settled by
 * reading the submission back.
 */
import type { CommitSubmissionInput, CommitSubmissionOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { isInvalidStateError, isOutcomeUnknown, readSubmission, rethrowHdcFailure } from "./hdcFailures";

const ONLY_PENDING = "Only pending submissions can be committed";

export async function commitSubmission(input: CommitSubmissionInput, deps: ActivityDeps): Promise<CommitSubmissionOutput> {
  const { hdc, log } = deps;
  const { productId, submissionId } = input;
  try {
    await hdc.commitSubmission(productId, submissionId);
    log(`Committed submission ${submissionId} of product ${productId}`);
    // 202 Accepted: the service has received the commit; processing shows up in later polls.
    return { commitStatus: "commitReceived", alreadyCommitted: false };
  } catch (error) {
    const alreadyCommitted = isInvalidStateError(error, ONLY_PENDING);
    if (!alreadyCommitted && !isOutcomeUnknown(error)) rethrowHdcFailure(error, `Committing submission ${submissionId}`);

    const commitStatus = await currentCommitStatus(input, deps);
    if (/^commitPending$/i.test(commitStatus)) {
      // The commit did not take (yet): the retried activity commits again.
      throw error;
    }
    // Received, complete, started, or failed: the commit happened; the orchestrator reads the outcome from commitStatus.
    log(`Submission ${submissionId} was already committed (commitStatus ${commitStatus})`);
    return { commitStatus, alreadyCommitted: true };
  }
}

async function currentCommitStatus(input: CommitSubmissionInput, deps: ActivityDeps): Promise<string> {
  const submission = await readSubmission(deps.hdc, input.productId, input.submissionId);
  return typeof submission.commitStatus === "string" ? submission.commitStatus : "unknown";
}
