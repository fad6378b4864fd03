/**
 * Retention: a timer (RETENTION_SCHEDULE, NCRONTAB with seconds, UTC) purges the history of
 * submissions that finished (Completed, Failed, Terminated) and were created more than RETENTION_DAYS
 * ago. Running instances are never touched. The result manifests and signed packages in
 * SIGNED_CONTAINER stay; they are the user's record. The checkpoints and claims in STATE_CONTAINER
 * stay too (a resume-ownership check needs the claims to refuse foreign ids), so before a
 * submission's (or preprod run's) history goes, what a re-post decides with (status, failure kind,
 * round, ids) is kept as a purge record (issue 30): a re-post then starts the next round instead of resuming the
 * submission Microsoft failed. No record written, nothing purged.
 */
import { app, type InvocationContext, type Timer } from "@azure/functions";
import * as df from "durable-functions";
import { getConfig } from "../config";
import { purgeRecordOf } from "../domain/purgeRecord";
import { durableClientFor } from "../instances/durableClient";
import { isPreprodName, isSubmitDriverName } from "../orchestrators/versions";
import { getBlobServiceClient } from "../storage/blobService";
import { writePurgeRecord } from "../storage/purgeRecords";

export const DEFAULT_RETENTION_SCHEDULE = "0 30 3 * * *";
export const PURGED_STATUSES = [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated];

/** `now` is the invocation time; a parameter so the cut-off can be tested. */
export async function purgeFinishedSubmissions(
  context: InvocationContext,
  now: Date = new Date(),
): Promise<{ instancesDeleted: number; createdBefore: string; recordsWritten: number }> {
  const config = getConfig();
  const days = config.settings.RETENTION_DAYS;
  const createdTimeTo = new Date(now.getTime() - days * 24 * 3600 * 1000);
  // The extension requires createdTimeFrom; the epoch means "from the beginning".
  const filter = { createdTimeFrom: new Date(0), createdTimeTo, runtimeStatus: PURGED_STATUSES };
  const client = durableClientFor(context);
  // Records first, then the purge by the same filter: only finished instances match, and one that
  // is re-posted meanwhile gets a new created time, so it is neither recorded nor purged.
  let recordsWritten = 0;
  for (const status of await client.getStatusBy(filter)) {
    // Preprod runs too (issue 40): a re-post decides "already signed" or "next round" (a new package) from it.
    if (!isSubmitDriverName(status.name) && !isPreprodName(status.name)) continue; // rejected drops, labels, deliveries: nothing to resume
    const full = await client.getStatus(status.instanceId, { showInput: true });
    await writePurgeRecord(getBlobServiceClient(config), config, purgeRecordOf(full, now));
    recordsWritten++;
  }
  const result = await client.purgeInstanceHistoryBy(filter);
  const instancesDeleted = result?.instancesDeleted ?? 0;
  context.log(
    `retention: purged ${instancesDeleted} finished instances created before ${createdTimeTo.toISOString()} (RETENTION_DAYS=${days}); ` +
      `${recordsWritten} purge records written`,
  );
  return { instancesDeleted, createdBefore: createdTimeTo.toISOString(), recordsWritten };
}

app.timer("purgeFinishedSubmissions", {
  // Read when the app loads (the host reads the schedule then too); config.ts validates the setting.
  schedule: process.env.RETENTION_SCHEDULE?.trim() || DEFAULT_RETENTION_SCHEDULE,
  runOnStartup: false,
  extraInputs: [df.input.durableClient()],
  handler: async (_timer: Timer, context: InvocationContext) => {
    await purgeFinishedSubmissions(context);
  },
});
