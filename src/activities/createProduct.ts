/**
 * Creates the Hardware Dev Center product at most once per orchestration instance, even when the
 * activity is retried after a crash between the POST and the recorded result (see
 * storage/checkpoints.ts for the scheme).
 */
import type { HdcProduct } from "../hdc";
import { claimant, claimResource, CreationInProgressError, readCheckpoint, updateCheckpoint, withCreationLock } from "../storage/checkpoints";
import type { CreateProductInput, CreateProductOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { TerminalActivityError } from "./errors";
import { rethrowHdcFailure } from "./hdcFailures";

/** Clock skew between us and Microsoft when comparing createdDateTime with requestedAt. */
export const RECONCILE_SKEW_MS = 5 * 60 * 1000;

export async function createProduct(input: CreateProductInput, deps: ActivityDeps): Promise<CreateProductOutput> {
  const { blobService, config, log } = deps;
  const { instanceId } = input;
  const recorded = (await readCheckpoint(blobService, config, instanceId)).product;
  if (recorded?.productId) {
    log(`[${instanceId}] product ${recorded.productId} was created by an earlier attempt; reusing it`);
    return { productId: recorded.productId, sharedProductId: recorded.sharedProductId, reused: true };
  }
  try {
    // One attempt at a time per instance: a duplicate delivery must not POST a second product.
    return await withCreationLock(blobService, config, "products", instanceId, () => createProductLocked(input, deps), deps.log);
  } catch (error) {
    if (!(error instanceof CreationInProgressError)) throw error;
    throw new TerminalActivityError(
      `Another attempt is creating the product for '${input.product.productName}' (instance ${instanceId}); this attempt stops ` +
        "so that only one product is created. If that attempt fails too, start the submission again: it resumes the recorded product",
    );
  }
}

async function createProductLocked(input: CreateProductInput, deps: ActivityDeps): Promise<CreateProductOutput> {
  const { blobService, config, hdc, log } = deps;
  const { instanceId, product } = input;
  // Read again under the lock: the attempt that held it may have finished.
  const checkpoint = (await readCheckpoint(blobService, config, instanceId)).product;

  if (checkpoint?.productId) {
    log(`[${instanceId}] product ${checkpoint.productId} was created by an earlier attempt; reusing it`);
    return { productId: checkpoint.productId, sharedProductId: checkpoint.sharedProductId, reused: true };
  }

  if (checkpoint?.requestedAt) {
    // An earlier attempt may have created the product and died before recording its id.
    const adopted = await adoptProductCreatedEarlier(input, checkpoint.requestedAt, deps);
    if (adopted) {
      await recordProduct(deps, instanceId, adopted);
      log(`[${instanceId}] adopted product ${adopted.id} created by an earlier attempt`);
      return { productId: adopted.id, sharedProductId: adopted.sharedProductId, reused: true };
    }
  }

  const requestedAt = new Date().toISOString();
  await updateCheckpoint(blobService, config, instanceId, (current) => ({ ...current, product: { requestedAt } }));
  let created: HdcProduct;
  try {
    created = await hdc.createProduct(product);
  } catch (error) {
    rethrowHdcFailure(error, `Creating product '${product.productName}'`);
  }
  if (!(await claimResource(blobService, config, "products", created.id, instanceId))) {
    // Another run's reconciliation adopted it in the moment before our claim: it is tracked there,
    // and creating one more would only repeat the race.
    const holder = await claimant(blobService, config, "products", created.id);
    throw new TerminalActivityError(
      `Product ${created.id} created by this attempt was claimed by instance ${holder ?? "unknown"}; not creating another product for '${product.productName}'`,
    );
  }
  await recordProduct(deps, instanceId, created);
  log(`[${instanceId}] created product ${created.id}`);
  return { productId: created.id, sharedProductId: created.sharedProductId, reused: false };
}

async function recordProduct(deps: ActivityDeps, instanceId: string, product: HdcProduct): Promise<void> {
  await updateCheckpoint(deps.blobService, deps.config, instanceId, (current) => ({
    ...current,
    product: { ...current.product, productId: product.id, sharedProductId: product.sharedProductId },
  }));
}

/**
 * A product with our name, created no earlier than our request (allowing for clock skew), and not
 * claimed by another instance, is the one our crashed attempt created. It is claimed before use.
 */
async function adoptProductCreatedEarlier(input: CreateProductInput, requestedAt: string, deps: ActivityDeps): Promise<HdcProduct | undefined> {
  const { blobService, config, hdc } = deps;
  let products: HdcProduct[];
  try {
    products = await hdc.listProducts();
  } catch (error) {
    rethrowHdcFailure(error, "Listing products to reconcile an earlier attempt");
  }
  const notBefore = Date.parse(requestedAt) - RECONCILE_SKEW_MS;
  const candidates = products
    .filter((p) => p.productName === input.product.productName)
    .filter((p) => p.createdDateTime === undefined || !(Date.parse(p.createdDateTime) < notBefore))
    // Newest first: if our attempt created one, it is the most recent match.
    .sort((a, b) => (Date.parse(b.createdDateTime ?? "") || 0) - (Date.parse(a.createdDateTime ?? "") || 0));
  for (const candidate of candidates) {
    if (await claimResource(blobService, config, "products", candidate.id, input.instanceId)) return candidate;
  }
  return undefined;
}
