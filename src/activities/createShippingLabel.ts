/**
 * Creates the shipping label of a publishLabel instance at most once (the scheme of createProduct,
 * storage/checkpoints.ts): under the instance's creation lock, `requestedAt` is recorded before
 * the POST and the label id after it. A retry that finds the id reuses it. One that finds only
 * `requestedAt` (a crash between POST and checkpoint) looks the label up by name and adopts it
 * (claimed, so two instances never share one).
 *
 * The POST is never re-sent after an unknown outcome (a 5xx or timeout: the HDC client does not
 * retry it, and we record `outcomeUnknown`): if reconciliation by name then finds nothing, the
 * activity stops with a terminal error instead of risking a second label. After a crash before any
 * answer (no outcome recorded) and no label of that name, creating is safe and is done.
 */
import type { NewShippingLabel } from "../domain/publishing";
import { createShippingLabel as postShippingLabel, findShippingLabelByName, type ShippingLabel } from "../hdc/shippingLabels";
import { claimant, claimResource, CreationInProgressError, readCheckpoint, readStateJson, updateCheckpoint, withCreationLock } from "../storage/checkpoints";
import type { CreateShippingLabelInput, CreateShippingLabelOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { isOutcomeUnknown, rethrowHdcFailure } from "./hdcFailures";

export async function createShippingLabel(input: CreateShippingLabelInput, deps: ActivityDeps): Promise<CreateShippingLabelOutput> {
  const recorded = (await readCheckpoint(deps.blobService, deps.config, input.instanceId)).label;
  if (recorded?.labelId) {
    deps.log(`[${input.instanceId}] shipping label ${recorded.labelId} was created by an earlier attempt; reusing it`);
    return { labelId: recorded.labelId, reused: true };
  }
  try {
    return await withCreationLock(deps.blobService, deps.config, "labels", input.instanceId, () => createLocked(input, deps), deps.log);
  } catch (error) {
    if (!(error instanceof CreationInProgressError)) throw error;
    throw new TerminalActivityError(`Another attempt is creating shipping label '${input.name}' (instance ${input.instanceId}); this attempt stops so that only one label is created`);
  }
}

async function createLocked(input: CreateShippingLabelInput, deps: ActivityDeps): Promise<CreateShippingLabelOutput> {
  const { blobService, config, hdc, log } = deps;
  const { instanceId, productId, submissionId, name } = input;
  const checkpoint = (await readCheckpoint(blobService, config, instanceId)).label;
  if (checkpoint?.labelId) {
    log(`[${instanceId}] shipping label ${checkpoint.labelId} was created by an earlier attempt; reusing it`);
    return { labelId: checkpoint.labelId, reused: true };
  }

  if (checkpoint?.requestedAt) {
    const adopted = await adoptByName(input, deps);
    if (adopted) {
      await record(deps, input, { labelId: adopted.id });
      log(`[${instanceId}] adopted shipping label ${adopted.id} created by an earlier attempt`);
      return { labelId: adopted.id, reused: true };
    }
    if (checkpoint.outcomeUnknown) {
      throw new TerminalActivityError(
        `Creating shipping label '${name}' got no definite answer from Hardware Dev Center and no label of that name exists on submission ${submissionId}; ` +
          "the request is not sent again (it may still appear). Check the partner portal, then publish again with POST /api/submissions/{id}/labels",
      );
    }
  }

  const body = await readStateJson<NewShippingLabel>(blobService, config, input.request.blobName);
  if (!body) throw new TerminalActivityError(`The prepared shipping label request ${input.request.blobName} is missing; publish again`);
  await record(deps, input, { requestedAt: new Date().toISOString(), outcomeUnknown: undefined });
  let created: ShippingLabel;
  try {
    created = await postShippingLabel(hdc, productId, submissionId, body);
  } catch (error) {
    if (isOutcomeUnknown(error)) await record(deps, input, { outcomeUnknown: true });
    else await record(deps, input, { requestedAt: undefined }); // a definite refusal: nothing was created
    rethrowHdcFailure(error, `Creating shipping label '${name}'`);
  }
  if (!(await claimResource(blobService, config, "labels", created.id, instanceId))) {
    const holder = await claimant(blobService, config, "labels", created.id);
    throw new TerminalActivityError(`Shipping label ${created.id} created by this attempt was claimed by instance ${holder ?? "unknown"}`);
  }
  await record(deps, input, { labelId: created.id });
  log(`[${instanceId}] created shipping label ${created.id} '${name}'`);
  return { labelId: created.id, reused: false };
}

async function record(deps: ActivityDeps, input: CreateShippingLabelInput, change: { requestedAt?: string; outcomeUnknown?: boolean; labelId?: string }): Promise<void> {
  await updateCheckpoint(deps.blobService, deps.config, input.instanceId, (current) => {
    const label = { ...current.label, productId: input.productId, submissionId: input.submissionId, name: input.name, ...change };
    for (const key of Object.keys(label) as (keyof typeof label)[]) if (label[key] === undefined) delete label[key];
    return { ...current, label };
  });
}

/** The newest label of our name on the submission that no other instance has claimed. */
async function adoptByName(input: CreateShippingLabelInput, deps: ActivityDeps): Promise<ShippingLabel | undefined> {
  let found: ShippingLabel | undefined;
  try {
    found = await findShippingLabelByName(deps.hdc, input.productId, input.submissionId, input.name);
  } catch (error) {
    rethrowHdcFailure(error, "Listing shipping labels to reconcile an earlier attempt");
  }
  if (!found) return undefined;
  return (await claimResource(deps.blobService, deps.config, "labels", found.id, input.instanceId)) ? found : undefined;
}
