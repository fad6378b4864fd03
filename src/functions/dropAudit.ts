/**
 * The audit record of a blob drop (issue 33): what packageDropped did with a package (started a run,
 * or rejected it), written before the event is acknowledged. The principal is the package's owner
 * (the caller who asked for its upload URL, or the DROP_OWNERS owner of its prefix) as the started
 * run records it, else "blob drop". If the audit store cannot be reached first, nothing is started and
 * the event fails (Event Grid redelivers it).
 */
import type { EventGridEvent, InvocationContext } from "@azure/functions";
import { getConfig } from "../config";
import { BLOB_DROP_PRINCIPAL, type AuditPrincipal } from "../domain/audit";
import { ownerIn, type Owner } from "../domain/authorization";
import { dropOwnerFor } from "../domain/dropOwners";
import { parseBlobSubject } from "../domain/packageRules";
import { auditStoreReady, writeAuditRecord } from "../audit/store";
import { durableClientFor, findInstance } from "../instances/durableClient";
import { getBlobServiceClient } from "../storage/blobService";

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
  if ((decision.action !== "started" && decision.action !== "rejected") || !decision.instanceId) return decision; // nothing done
  const location = parseBlobSubject(event.subject ?? "");
  let owner: Owner | undefined;
  if (decision.action === "started") {
    const status = await findInstance(durableClientFor(context), decision.instanceId, { showInput: true });
    owner = ownerIn(status?.input);
  } else if (location) {
    owner = dropOwnerFor(config.settings.DROP_OWNERS, location.container, location.blobName);
  }
  await writeAuditRecord(service, config, {
    time: new Date().toISOString(),
    principal: principalOf(owner),
    action: "drop",
    target: { instance: decision.instanceId, ...(location ? { package: `${location.container}/${location.blobName}` } : {}) },
    outcome: decision.action === "started" ? { result: "ok", reason: "started" } : { result: "refused", reason: decision.reason ?? "rejected" },
    requestId: context.invocationId,
  });
  return decision;
}
