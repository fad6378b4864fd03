/**
 * The orchestration's public face: the custom status set at every stage and the summary it returns.
 * Both are read by GET /api/submissions/{id}, so they hold only non-secret facts.
 */
import type * as df from "durable-functions";
import type { BlobLocation, PackageRef, Stage, SubmissionCustomStatus } from "../domain/types";

/** Microsoft's error report can be long; status and exception messages keep a bounded prefix. */
export const MAX_ERROR_REPORT_IN_STATUS = 4000;
export const MAX_ERROR_REPORT_IN_MESSAGE = 500;

/** What a completed orchestration returns (its `output`). */
export interface SubmitDriverSummary {
  outcome: "succeeded";
  instanceId: string;
  package: PackageRef;
  productId: string;
  submissionId: string;
  commitStatus: string | null;
  signedPackage: BlobLocation;
  driverMetadata?: BlobLocation;
  manifest?: BlobLocation;
  pollCount: number;
  generation: number;
  startedAt: string;
  finishedAt: string;
}

export type StatusFacts = Omit<SubmissionCustomStatus, "stage" | "package" | "updatedAt">;

/**
 * Custom status is capped by the host (16 KB); a long HLK failure list must not push it over. The
 * result manifest keeps every message.
 */
export const MAX_MESSAGES_IN_STATUS = 20;
export const MAX_MESSAGE_LENGTH_IN_STATUS = 500;

export function boundedMessages(messages: string[]): string[] {
  const kept = messages.slice(0, MAX_MESSAGES_IN_STATUS).map((message) => truncate(message, MAX_MESSAGE_LENGTH_IN_STATUS));
  const dropped = messages.length - kept.length;
  return dropped > 0 ? [...kept, `(${dropped} more in the result manifest)`] : kept;
}

export function truncate(text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

/**
 * Accumulates the facts learnt so far and publishes them with each stage change. Replays call it
 * again with the same values, which is harmless: only the last value of an episode is kept.
 */
export class StatusReporter {
  private facts: StatusFacts = {};
  private current: Stage = "queued";

  constructor(
    private readonly context: df.OrchestrationContext,
    private readonly packageRef: PackageRef,
  ) {}

  get stage(): Stage {
    return this.current;
  }

  get known(): Readonly<StatusFacts> {
    return this.facts;
  }

  /** Records `stage` plus any new facts; `undefined` values clear a fact (e.g. nextPollAt). */
  report(stage: Stage, facts: Partial<StatusFacts> = {}): void {
    this.current = stage;
    const merged: Record<string, unknown> = { ...this.facts, ...facts };
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
    this.facts = merged as StatusFacts;
    const status: SubmissionCustomStatus = {
      stage,
      package: this.packageRef,
      ...this.facts,
      updatedAt: this.context.df.currentUtcDateTime.toISOString(),
    };
    this.context.df.setCustomStatus(status);
  }
}
