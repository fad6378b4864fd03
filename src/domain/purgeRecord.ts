/**
 * What retention keeps of a submission whose history it purges (issue 30). The instance's status is
 * what a re-post reads to choose between "resume", "new round" (Microsoft failed it) and "already
 * signed"; the checkpoints and claims in STATE_CONTAINER outlive the purge. Without this record a
 * re-post after a purge found no instance, started round 1 and resumed round 1's checkpoints: the
 * very submission Microsoft had failed. Only ids, statuses and round facts are kept: nothing secret.
 */

import { ownerIn, type Owner } from "./authorization";

export interface PurgeRecord {
  instanceId: string;
  /** The orchestration that ran (a submitDriver version, or signPreproduction): which kind of run it was. */
  name?: string;
  /** When retention purged the history (the timer's invocation time). */
  purgedAt: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  runtimeStatus: string;
  /** The parts of the custom status a re-post decides with. */
  customStatus: {
    failureKind?: string;
    commitStatus?: string | null;
    state?: string | null;
    productId?: string;
    submissionId?: string;
    error?: string;
  };
  /** The parts of the run's input a re-post decides with (round, ids, product kind). */
  input: {
    round?: number;
    resume?: { productId: string; submissionId?: string };
    submissionType?: string;
    carry?: { productId?: string; submissionId?: string };
    product?: { testHarness?: string; isTestSign?: boolean };
    /** Who the run belonged to (issue 32): a re-post after the purge is held to it. */
    owner?: Owner;
  };
}

type Loose = Record<string, unknown>;
const objectOr = (value: unknown): Loose => (value && typeof value === "object" && !Array.isArray(value) ? (value as Loose) : {});
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const nullableText = (value: unknown): string | null | undefined => (value === null ? null : text(value));
const isoOf = (value: unknown): string | undefined => {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return text(value);
};
/** Drops undefined members so the stored JSON holds only what was known. */
function defined<T extends Loose>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Picks the record's facts out of an instance status (input shown); anything else in it is not kept. */
export function purgeRecordOf(
  status: { instanceId: string; name?: unknown; runtimeStatus: unknown; customStatus?: unknown; input?: unknown; createdTime?: unknown; lastUpdatedTime?: unknown },
  purgedAt: Date,
): PurgeRecord {
  const custom = objectOr(status.customStatus);
  const input = objectOr(status.input);
  const resume = objectOr(input.resume);
  const carry = objectOr(input.carry);
  const product = objectOr(input.product);
  return {
    instanceId: status.instanceId,
    purgedAt: purgedAt.toISOString(),
    ...defined({ name: text(status.name), createdTime: isoOf(status.createdTime), lastUpdatedTime: isoOf(status.lastUpdatedTime) }),
    runtimeStatus: String(status.runtimeStatus),
    customStatus: defined({
      failureKind: text(custom.failureKind),
      commitStatus: nullableText(custom.commitStatus),
      state: nullableText(custom.state),
      productId: text(custom.productId),
      submissionId: text(custom.submissionId),
      error: text(custom.error),
    }),
    input: defined({
      round: typeof input.round === "number" && Number.isSafeInteger(input.round) ? input.round : undefined,
      resume: text(resume.productId) ? defined({ productId: text(resume.productId)!, submissionId: text(resume.submissionId) }) : undefined,
      submissionType: text(input.submissionType),
      carry: text(carry.productId) ? defined({ productId: text(carry.productId), submissionId: text(carry.submissionId) }) : undefined,
      owner: ownerIn(input),
      product: input.product !== undefined ? defined({ testHarness: text(product.testHarness), isTestSign: typeof product.isTestSign === "boolean" ? product.isTestSign : undefined }) : undefined,
    }),
  };
}
