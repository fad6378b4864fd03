/**
 * Creates the submission at most once per orchestration instance (same checkpoint scheme as
 * createProduct). Its response carries the upload SAS, which is deliberately dropped: copyPackage
 * GETs a fresh one right before use.
 */
import type { HdcSubmission } from "../hdc";
import { claimant, claimResource, CreationInProgressError, readCheckpoint, updateCheckpoint, withCreationLock } from "../storage/checkpoints";
import type { CreateSubmissionInput, CreateSubmissionOutput } from "./contract";
import { RECONCILE_SKEW_MS } from "./createProduct";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { isInvalidStateError, rethrowHdcFailure } from "./hdcFailures";

const INITIAL_ALREADY_EXISTS = "Initial submission already exists";

export async function createSubmission(input: CreateSubmissionInput, deps: ActivityDeps): Promise<CreateSubmissionOutput> {
  const { blobService, config, log } = deps;
  const { instanceId, productId } = input;
  const recorded = (await readCheckpoint(blobService, config, instanceId)).submission;
  if (recorded?.productId === productId && recorded.submissionId) {
    log(`[${instanceId}] submission ${recorded.submissionId} was created by an earlier attempt; reusing it`);
    return { submissionId: recorded.submissionId, commitStatus: recorded.commitStatus ?? "commitPending", reused: true };
  }
  try {
    // One attempt at a time per instance: a duplicate delivery must not POST a second submission.
    return await withCreationLock(blobService, config, "submissions", instanceId, () => createSubmissionLocked(input, deps), deps.log);
  } catch (error) {
    if (!(error instanceof CreationInProgressError)) throw error;
    throw new TerminalActivityError(
      `Another attempt is creating the submission '${input.name}' for product ${productId} (instance ${instanceId}); this attempt stops ` +
        "so that only one submission is created. If that attempt fails too, start the submission again: it resumes the recorded submission",
    );
  }
}

async function createSubmissionLocked(input: CreateSubmissionInput, deps: ActivityDeps): Promise<CreateSubmissionOutput> {
  const { blobService, config, hdc, log } = deps;
  const { instanceId, productId } = input;
  const stored = (await readCheckpoint(blobService, config, instanceId)).submission;
  // A checkpoint for another product (e.g. a resumed run) says nothing about this one.
  const checkpoint = stored?.productId === productId ? stored : undefined;

  if (checkpoint?.submissionId) {
    log(`[${instanceId}] submission ${checkpoint.submissionId} was created by an earlier attempt; reusing it`);
    return { submissionId: checkpoint.submissionId, commitStatus: checkpoint.commitStatus ?? "commitPending", reused: true };
  }

  if (checkpoint?.requestedAt) {
    const adopted = await adoptSubmission(input, deps, Date.parse(checkpoint.requestedAt) - RECONCILE_SKEW_MS);
    if (adopted) return reuse(adopted, deps, input);
  }

  const requestedAt = new Date().toISOString();
  await updateCheckpoint(blobService, config, instanceId, (current) => ({ ...current, submission: { productId, requestedAt } }));
  let created: HdcSubmission;
  try {
    created = await hdc.createSubmission(productId, { name: input.name, type: input.type });
  } catch (error) {
    if (input.type === "initial" && isInvalidStateError(error, INITIAL_ALREADY_EXISTS)) {
      // Our own earlier attempt only if this instance had asked before (bounded by that request);
      // otherwise it is someone else's (portal, another run) and must not be taken over.
      const adopted = checkpoint?.requestedAt
        ? await adoptSubmission(input, deps, Date.parse(checkpoint.requestedAt) - RECONCILE_SKEW_MS)
        : undefined;
      if (adopted) return reuse(adopted, deps, input);
      throw new TerminalActivityError(
        `Product ${productId} already has an initial submission that this run did not create; it is not taken over (a resume continues only submissions this service created for this package version); create a derived submission instead`,
      );
    }
    rethrowHdcFailure(error, `Creating submission '${input.name}' for product ${productId}`);
  }
  if (!(await claimResource(blobService, config, "submissions", created.id, instanceId))) {
    // Another run's reconciliation adopted it in the moment before our claim: it is tracked there,
    // and creating one more would only repeat the race.
    const holder = await claimant(blobService, config, "submissions", created.id);
    throw new TerminalActivityError(
      `Submission ${created.id} created by this attempt was claimed by instance ${holder ?? "unknown"}; not creating another for product ${productId}`,
    );
  }
  await recordSubmission(deps, input, created);
  log(`[${instanceId}] created submission ${created.id} for product ${productId}`);
  return { submissionId: created.id, commitStatus: created.commitStatus ?? "commitPending", reused: false };
}

async function reuse(submission: HdcSubmission, deps: ActivityDeps, input: CreateSubmissionInput): Promise<CreateSubmissionOutput> {
  await recordSubmission(deps, input, submission);
  deps.log(`[${input.instanceId}] adopted submission ${submission.id} of product ${input.productId} created by an earlier attempt`);
  return { submissionId: submission.id, commitStatus: submission.commitStatus ?? "commitPending", reused: true };
}

async function recordSubmission(deps: ActivityDeps, input: CreateSubmissionInput, submission: HdcSubmission): Promise<void> {
  await updateCheckpoint(deps.blobService, deps.config, input.instanceId, (current) => ({
    ...current,
    submission: {
      ...(current.submission?.productId === input.productId ? current.submission : {}),
      productId: input.productId,
      submissionId: submission.id,
      commitStatus: submission.commitStatus ?? undefined,
    },
  }));
}

/**
 * Finds our crashed attempt's submission: same name and type, created no earlier than
 * `notBefore`, and not claimed by another instance. Claims it before returning it.
 */
async function adoptSubmission(input: CreateSubmissionInput, deps: ActivityDeps, notBefore: number): Promise<HdcSubmission | undefined> {
  const { blobService, config, hdc } = deps;
  let submissions: HdcSubmission[];
  try {
    submissions = await hdc.listSubmissions(input.productId);
  } catch (error) {
    rethrowHdcFailure(error, `Listing submissions of product ${input.productId} to reconcile an earlier attempt`);
  }
  const candidates = submissions
    .filter((s) => s.name === input.name)
    .filter((s) => s.type === undefined || s.type.toLowerCase() === input.type)
    .filter((s) => s.createdDateTime === undefined || !(Date.parse(s.createdDateTime) < notBefore));
  for (const candidate of candidates) {
    if (await claimResource(blobService, config, "submissions", candidate.id, input.instanceId)) return candidate;
  }
  return undefined;
}
