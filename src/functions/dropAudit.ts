/**
 * The audit record of a blob drop (issue 33): what packageDropped did with a package (started a run,
 * or rejected it), written before the event is acknowledged. The principal is the package's owner
 * (the caller who asked for its upload URL, or the DROP_OWNERS owner of its prefix) as the started
 * run records it, else "blob drop". If the audit store cannot be reached first, nothing is started and
 * the event fails (Event Grid redelivers it); if the record cannot be written after the start, the
 * event fails too, and the redelivery (which finds the run) writes it. One record per drop however
 * often the event comes, also for deliveries at the same moment (the store's keyed write).
 */
import type { EventGridEvent, InvocationContext } from "@azure/functions";
import { getConfig } from "../config";
import { BLOB_DROP_PRINCIPAL, type AuditPrincipal } from "../domain/audit";
import { ownerIn, type Owner } from "../domain/authorization";
import { dropOwnerFor } from "../domain/dropOwners";
import { parseBlobSubject } from "../domain/packageRules";
import { auditStoreReady, keyedRecordExists, writeAuditRecord } from "../audit/store";
import { durableClientFor, findInstance } from "../instances/durableClient";
import { getBlobServiceClient } from "../storage/blobService";
import { RECORD_REJECTED_DROP } from "../orchestrators/recordRejectedDrop";

/** What packageDropped decided, as far as the record needs it. */
type Decision = { action: string; instanceId?: string; reason?: string };

function principalOf(owner: Owner | undefined): AuditPrincipal {
  if (!owner) return BLOB_DROP_PRINCIPAL;
  return { objectId: owner.objectId, ...(owner.name ? { name: owner.name } : {}), ...(owner.clientAppId ? { clientAppId: owner.clientAppId } : {}), roles: [] };
}

export async function auditedDrop<D extends Decision>(
  event: EventGridEvent,
  context: InvocationContext,
  handle: (event: EventGridEvent, context: InvocationContext) => Promise<D>,
): Promise<D> {
  const config = getConfig();
  const service = getBlobServiceClient(config);
  await auditStoreReady(service, config);
  const decision = await handle(event, context);
  const instanceId = decision.instanceId;
  if (!instanceId || !["started", "rejected", "alreadyStarted"].includes(decision.action)) return decision; // nothing done
  const location = parseBlobSubject(event.subject ?? "");
  const status = await findInstance(durableClientFor(context), instanceId, { showInput: true });
  // A redelivery finds what the first delivery started: it records the drop only if no delivery did
  // (the first one's write failed). A run an HTTP start made is not a drop's; a purged one was recorded long ago.
  const input = status?.input as { requestedBy?: unknown } | undefined;
  if (decision.action === "alreadyStarted" && (!status || input?.requestedBy !== "eventGrid")) return decision;
  const rejected = decision.action === "rejected" || status?.name === RECORD_REJECTED_DROP;
  // The owner the run (or the rejection's record) holds; a rejection whose record could not be listed: its prefix's.
  const owner = ownerIn(status?.input) ?? (rejected && location ? dropOwnerFor(config.settings.DROP_OWNERS, location.container, location.blobName) : undefined);
  // Whether a delivery already recorded this drop.
  const key = `drop:${instanceId}`;
  if (await keyedRecordExists(service, config, key)) return decision;
  await writeAuditRecord(
    service,
    config,
    {
      time: new Date().toISOString(),
      principal: principalOf(owner),
      action: "drop",
      target: { instance: instanceId, ...(location ? { package: `${location.container}/${location.blobName}` } : {}) },
      outcome: rejected ? { result: "refused", reason: decision.reason ?? (status?.input as { reason?: string } | undefined)?.reason ?? "rejected" } : { result: "ok", reason: "started" },
      requestId: context.invocationId,
    },
    { key },
  );
  return decision;
}
