/**
 * Retention: a timer (RETENTION_SCHEDULE, NCRONTAB with seconds, UTC) purges the history of
 * submissions that finished (Completed, Failed, Terminated) and were created more than RETENTION_DAYS
 * ago. Running instances are never touched. The result manifests and signed packages in
 * SIGNED_CONTAINER stay; they are the user's record. The checkpoints and claims in STATE_CONTAINER
 * stay too (a resume-ownership check needs the claims to refuse foreign ids), so before a
 * submission's (or preprod run's) history goes, what a re-post decides with (status, failure kind,
 * round, ids) is kept as a purge record (issue 30): a re-post then starts the next round instead of resuming the
 * submission Microsoft failed. No record written, nothing purged.
 *
 * Issue 33: a purge is an audited action (one record per run, principal "retention"), and it never
 * touches AUDIT_CONTAINER: it purges Durable history by filter and writes only purge records. The
 * audit store is checked before anything is purged; a record that cannot be written after the purge
 * fails the run (the host logs it; the next run purges nothing more and records again).
 */
import { app, type InvocationContext, type Timer } from "@azure/functions";
import * as df from "durable-functions";
import { getConfig } from "../config";
import { purgeRecordOf } from "../domain/purgeRecord";
import { durableClientFor } from "../instances/durableClient";
import { isPreprodName, isSubmitDriverName } from "../orchestrators/versions";
import { getBlobServiceClient } from "../storage/blobService";
import { writePurgeRecord } from "../storage/purgeRecords";
import { RETENTION_PRINCIPAL } from "../domain/audit";
import { auditStoreReady, writeAuditRecord } from "../audit/store";

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
  const service = getBlobServiceClient(config);
  await auditStoreReady(service, config); // nothing purged that could not be recorded
  // Records first, then the purge by the same filter: only finished instances match, and one that
  // is re-posted meanwhile gets a new created time, so it is neither recorded nor purged.
  let recordsWritten = 0;
  for (const status of await client.getStatusBy(filter)) {
    // Preprod runs too (issue 40): a re-post decides "already signed" or "next round" (a new package) from it.
    if (!isSubmitDriverName(status.name) && !isPreprodName(status.name)) continue; // rejected drops, labels, deliveries: nothing to resume
    const full = await client.getStatus(status.instanceId, { showInput: true });
    await writePurgeRecord(service, config, purgeRecordOf(full, now));
    recordsWritten++;
  }
  const result = await client.purgeInstanceHistoryBy(filter);
  const instancesDeleted = result?.instancesDeleted ?? 0;
  await writeAuditRecord(service, config, {
    time: new Date().toISOString(),
    principal: RETENTION_PRINCIPAL,
    action: "purge",
    target: {},
    outcome: { result: "ok", reason: `purged the history of ${instancesDeleted} finished instances created before ${createdTimeTo.toISOString()} (RETENTION_DAYS=${days}); ${recordsWritten} purge records written` },
    requestId: context.invocationId,
  });
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
