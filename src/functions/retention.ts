/**
 * Retention: a timer (RETENTION_SCHEDULE, NCRONTAB with seconds, UTC) purges the history of
 * submissions that finished (Completed, Failed, Terminated) and were created more than RETENTION_DAYS
 * ago. Running instances are never touched. The result manifests and signed packages in
 * SIGNED_CONTAINER stay; they are the user's record.
 */
import { app, type InvocationContext, type Timer } from "@azure/functions";
import * as df from "durable-functions";
import { getConfig } from "../config";
import { durableClientFor } from "../instances/durableClient";

export const DEFAULT_RETENTION_SCHEDULE = "0 30 3 * * *";
export const PURGED_STATUSES = [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated];

/** `now` is the invocation time; a parameter so the cut-off can be tested. */
export async function purgeFinishedSubmissions(context: InvocationContext, now: Date = new Date()): Promise<{ instancesDeleted: number; createdBefore: string }> {
  const days = getConfig().settings.RETENTION_DAYS;
  const createdTimeTo = new Date(now.getTime() - days * 24 * 3600 * 1000);
  const result = await durableClientFor(context).purgeInstanceHistoryBy({
    // The extension requires createdTimeFrom; the epoch means "from the beginning".
    createdTimeFrom: new Date(0),
    createdTimeTo,
    runtimeStatus: PURGED_STATUSES,
  });
  const instancesDeleted = result?.instancesDeleted ?? 0;
  context.log(`retention: purged ${instancesDeleted} finished instances created before ${createdTimeTo.toISOString()} (RETENTION_DAYS=${days})`);
  return { instancesDeleted, createdBefore: createdTimeTo.toISOString() };
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
