/**
 * The notification a webhook receives: a CloudEvents 1.0 JSON document (structured mode) about one
 * submission reaching a terminal state, signed with HMAC-SHA256 of the exact body bytes.
 * Built from the same view model as GET /api/submissions/{id}; never holds a key, token or SAS.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { SubmissionView } from "../domain/submissionView";
import type { LabelReport } from "../domain/types";

export const NOTIFICATION_EVENTS = ["succeeded", "failed", "rejected", "cancelled"] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const CLOUD_EVENT_TYPE_PREFIX = "com.contoso.driversigning.submission.";
export const CLOUD_EVENT_SOURCE = "/driver-signing/submissions";
/** The header that carries `sha256=<hex of HMAC-SHA256(secret, body)>`. */
export const SIGNATURE_HEADER = "x-signature-256";

/** Partner Center's page of a driver submission (ids are decimal strings). */
export function partnerCenterUrl(productId: string, submissionId: string): string {
  return `https://partner.microsoft.com/en-us/dashboard/hardware/driver/${encodeURIComponent(productId)}/submission/${encodeURIComponent(submissionId)}`;
}

export interface NotificationData {
  id: string;
  event: NotificationEvent;
  package?: SubmissionView["package"];
  productId?: string;
  submissionId?: string;
  step?: SubmissionView["step"];
  messages: string[];
  error?: string;
  failureKind?: SubmissionView["failureKind"];
  reason?: string;
  manifest?: SubmissionView["manifest"];
  /** Where Microsoft's whole error report is (a location; the report itself is never in the payload). */
  errorReportBlob?: SubmissionView["errorReportBlob"];
  signedPackage?: SubmissionView["signedPackage"];
  elapsedSeconds?: number;
  partnerCenterUrl?: string;
  /** Preproduction signing (issue 40): absent for a product submission. */
  signing?: SubmissionView["signing"];
  preprodPackageId?: string;
  /** One line for a Teams/Slack incoming webhook (their `text` field). */
  text: string;
}

export interface SubmissionCloudEvent {
  specversion: "1.0";
  type: string;
  source: string;
  id: string;
  time: string;
  subject: string;
  datacontenttype: "application/json";
  data: NotificationData;
}

const MAX_MESSAGES = 5;

/**
 * `id` is a hash of instance id, event and the run's creation time: the same event of the same run
 * always has the same id (receivers dedupe on it), while a re-posted run's new outcome gets a new one.
 */
export function notificationEventId(instanceId: string, event: NotificationEvent, createdTime: string | undefined): string {
  return createHash("sha256").update(JSON.stringify([instanceId, event, createdTime ?? ""])).digest("hex").slice(0, 32);
}

export function buildCloudEvent(view: SubmissionView, event: NotificationEvent, time: string): SubmissionCloudEvent {
  const pkg = view.package ? `${view.package.container}/${view.package.blobName}` : view.id;
  const portal = view.productId && view.submissionId ? partnerCenterUrl(view.productId, view.submissionId) : undefined;
  const detail =
    event === "succeeded"
      ? view.signing === "preproduction"
        ? `preproduction-signed (preprod package ${view.preprodPackageId})`
        : `signed (product ${view.productId}, submission ${view.submissionId})`
      : event === "cancelled"
        ? "cancelled"
        : (view.reason ?? view.error ?? event);
  const data: NotificationData = {
    id: view.id,
    event,
    package: view.package,
    productId: view.productId,
    submissionId: view.submissionId,
    step: view.step,
    messages: view.messages.slice(0, MAX_MESSAGES),
    error: view.error,
    failureKind: view.failureKind,
    reason: view.reason,
    manifest: view.manifest,
    errorReportBlob: view.errorReportBlob,
    signedPackage: view.signedPackage,
    elapsedSeconds: view.elapsedSeconds,
    partnerCenterUrl: portal,
    signing: view.signing,
    preprodPackageId: view.preprodPackageId,
    text: `${view.signing === "preproduction" ? "Preproduction driver signing" : "Driver signing"} ${event}: ${pkg} — ${detail}`.slice(0, 1000),
  };
  for (const key of Object.keys(data) as Array<keyof NotificationData>) if (data[key] === undefined) delete data[key];
  return {
    specversion: "1.0",
    type: `${CLOUD_EVENT_TYPE_PREFIX}${event}`,
    source: CLOUD_EVENT_SOURCE,
    id: notificationEventId(view.id, event, view.createdTime),
    time,
    subject: view.id,
    datacontenttype: "application/json",
    data,
  };
}

/** Second-person approval of a label (issue 34): asked for, and decided (approve, reject or expired). */
export const APPROVAL_NOTIFICATION_EVENTS = ["approvalRequested", "approvalDecided"] as const;
export type ApprovalNotificationEvent = (typeof APPROVAL_NOTIFICATION_EVENTS)[number];
export const APPROVAL_EVENT_TYPE_PREFIX = "com.contoso.driversigning.label.";

export const isApprovalNotificationEvent = (event: string): event is ApprovalNotificationEvent => (APPROVAL_NOTIFICATION_EVENTS as readonly string[]).includes(event);

export interface ApprovalNotificationData {
  /** The submission the label is for. */
  id: string;
  /** The publishLabel run that waits (or waited). */
  labelRun: string;
  event: ApprovalNotificationEvent;
  /** awaitingApproval, creating (approved), rejected or expired. */
  phase: LabelReport["phase"];
  destination?: LabelReport["destination"];
  name?: string;
  hardwareIdCount?: number;
  hardwareIdSample?: string[];
  chidCount?: number;
  audiences?: string[];
  approval: NonNullable<LabelReport["approval"]>;
  text: string;
}

export interface ApprovalCloudEvent extends Omit<SubmissionCloudEvent, "data"> {
  data: ApprovalNotificationData;
}

/**
 * The approval event of one label run. Its id hashes run, event and the approval's own time (asked
 * at / decided at), so a queueing that runs twice builds the same event and each receiver gets it once.
 */
export function buildApprovalCloudEvent(parentId: string, labelRun: string, label: LabelReport, event: ApprovalNotificationEvent): ApprovalCloudEvent {
  const approval = label.approval;
  if (!approval) throw new Error(`label run ${labelRun} has no approval to notify about`);
  const when = event === "approvalRequested" ? approval.requestedAt : (approval.decidedAt ?? approval.deadline);
  const what = `${label.destination ?? "label"} "${label.name ?? ""}" (${label.hardwareIdCount ?? 0} hardware ids, ${label.chidCount ?? 0} CHIDs) of submission ${parentId}`;
  const requester = approval.requester ? (approval.requester.name ?? approval.requester.objectId) : "an unknown requester";
  const outcome =
    label.phase === "expired"
      ? `expired without a decision at ${approval.deadline}`
      : approval.decision === "reject"
        ? `rejected by ${approval.approver?.name || approval.approver?.objectId}: ${approval.comment ?? ""}`
        : `approved by ${approval.approver?.name || approval.approver?.objectId}`;
  const text = event === "approvalRequested" ? `Label approval requested by ${requester} for ${what}, until ${approval.deadline}` : `Label ${outcome} — ${what}`;
  const data: ApprovalNotificationData = {
    id: parentId,
    labelRun,
    event,
    phase: label.phase,
    destination: label.destination,
    name: label.name,
    hardwareIdCount: label.hardwareIdCount,
    hardwareIdSample: label.hardwareIdSample?.slice(0, MAX_MESSAGES),
    chidCount: label.chidCount,
    audiences: label.audiences,
    approval,
    text: text.slice(0, 1000),
  };
  for (const key of Object.keys(data) as Array<keyof ApprovalNotificationData>) if (data[key] === undefined) delete data[key];
  return {
    specversion: "1.0",
    type: `${APPROVAL_EVENT_TYPE_PREFIX}${event}`,
    source: CLOUD_EVENT_SOURCE,
    id: createHash("sha256").update(JSON.stringify([labelRun, event, when])).digest("hex").slice(0, 32),
    time: event === "approvalRequested" ? approval.requestedAt : (approval.decidedAt && label.phase !== "expired" ? approval.decidedAt : approval.deadline),
    subject: labelRun,
    datacontenttype: "application/json",
    data,
  };
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact body with the shared secret (GitHub's webhook convention). */
export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** What a receiver does: recompute and compare in constant time. */
export function verifySignature(body: string, secret: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signatureOf(body, secret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * The delivery orchestration of one event to one receiver, by the receiver's stable id (URLs never
 * enter history). Deliveries queued before ids existed ran as `ntf-<event>-<position>`.
 */
export function deliveryInstanceId(eventId: string, receiverId: string): string {
  return `ntf-${eventId}-${receiverId}`;
}
