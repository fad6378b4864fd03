/**
 * Shipping-label operations (reference/hdc-api.md a.4 rows 11-16, shipping-labels.md section 1)
 * on top of HdcClient: same pipeline (token, retries, MS-CorrelationId), same lossless parsing,
 * same HdcError. The create POST is not repeated after a 5xx or a timeout (it may have created
 * the label): callers reconcile by name with findShippingLabelByName.
 */
import type { HttpMethods } from "@azure/core-rest-pipeline";
import type { Audience, LabelTargetingUpdate, NewShippingLabel, NormalizedLabelStatus } from "../domain/publishing";
import { HdcError, isRecord } from "./errors";
import { type NormalizeLabelOptions, normalizeLabelStatus } from "./normalizeLabelStatus";
import type { HdcLink } from "./types";

/** The two requests the label operations need; HdcClient has both (requestJson, request). */
export interface HdcRequester {
  /** Sends and parses the JSON answer losslessly; throws HdcError unless the status is expected. */
  requestJson(method: HttpMethods, path: string, expected: number[], body?: unknown, options?: { creates?: boolean }): Promise<unknown>;
  /** Sends and ignores the (empty) body. */
  request(method: HttpMethods, path: string, expected: number[], body?: unknown): Promise<void>;
}

export interface ShippingLabel {
  id: string;
  productId: string;
  submissionId: string;
  name?: string;
  destination?: string;
  workflowStatus?: { currentStep?: unknown; state?: unknown; messages?: unknown; errorReport?: unknown } | null;
  targeting?: Record<string, unknown> | null;
  publishingSpecifications?: Record<string, unknown> | null;
  recipientSpecifications?: Record<string, unknown> | null;
  links?: HdcLink[];
  [field: string]: unknown;
}

export type { Audience } from "../domain/publishing";

const id = (name: string, value: string) => {
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw new TypeError(`${name} must be a decimal string, got ${typeof value === "string" ? JSON.stringify(value) : typeof value}`);
  }
  return value;
};

const labelsPath = (productId: string, submissionId: string) =>
  `hardware/products/${id("productId", productId)}/submissions/${id("submissionId", submissionId)}/shippingLabels`;
const labelPath = (productId: string, submissionId: string, labelId: string) => `${labelsPath(productId, submissionId)}/${id("shippingLabelId", labelId)}`;

function invalid(method: string, path: string, why: string): HdcError {
  return new HdcError({ method, path: `/${path.split("?", 1)[0]}`, code: "invalidResponse", summary: `invalid response: ${why}`, retryable: method === "GET" });
}

const idText = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : typeof value === "number" || typeof value === "bigint" ? String(value) : undefined;

function asLabel(value: unknown, method: string, path: string, productId: string, submissionId: string, labelId?: string): ShippingLabel {
  if (!isRecord(value)) throw invalid(method, path, "expected a shipping label object");
  const labelIdText = idText(value.id) ?? labelId;
  if (labelIdText === undefined) throw invalid(method, path, "the shipping label has no id");
  return {
    ...value,
    id: labelIdText,
    productId: idText(value.productId) ?? productId,
    submissionId: idText(value.submissionId) ?? submissionId,
  } as ShippingLabel;
}

/** POST .../shippingLabels. The status code is undocumented: 200 and 201 are success. */
export async function createShippingLabel(client: HdcRequester, productId: string, submissionId: string, label: NewShippingLabel): Promise<ShippingLabel> {
  const path = labelsPath(productId, submissionId);
  const body = await client.requestJson("POST", path, [200, 201], label, { creates: true });
  return asLabel(body, "POST", path, productId, submissionId);
}

/** GET .../shippingLabels/{id}?includeTargetingInfo=true */
export async function getShippingLabel(client: HdcRequester, productId: string, submissionId: string, labelId: string): Promise<ShippingLabel> {
  const path = `${labelPath(productId, submissionId, labelId)}?includeTargetingInfo=true`;
  const body = await client.requestJson("GET", path, [200]);
  return asLabel(body, "GET", path, productId, submissionId, labelId);
}

/** GET .../shippingLabels (first page; a submission carries few labels). */
export async function listShippingLabels(client: HdcRequester, productId: string, submissionId: string): Promise<ShippingLabel[]> {
  const path = `${labelsPath(productId, submissionId)}?includeTargetingInfo=true`;
  const body = await client.requestJson("GET", path, [200]);
  if (!isRecord(body)) throw invalid("GET", path, "expected a JSON object");
  const items = Array.isArray(body.value) ? body.value : Array.isArray(body.items) ? body.items : [];
  return items.map((item) => asLabel(item, "GET", path, productId, submissionId));
}

/**
 * Reconciliation after a create whose answer was lost: the label of that name (case-insensitive,
 * trimmed), the newest id when several exist.
 */
export async function findShippingLabelByName(
  client: HdcRequester,
  productId: string,
  submissionId: string,
  name: string,
): Promise<ShippingLabel | undefined> {
  const wanted = name.trim().toLowerCase();
  const matches = (await listShippingLabels(client, productId, submissionId)).filter((label) => typeof label.name === "string" && label.name.trim().toLowerCase() === wanted);
  return matches.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? 1 : -1))[0];
}

/** PATCH .../shippingLabels/{id} with the `targeting` key; 204. Each hardware id / CHID carries action add|remove. */
export async function updateShippingLabelTargeting(
  client: HdcRequester,
  productId: string,
  submissionId: string,
  labelId: string,
  targeting: LabelTargetingUpdate,
): Promise<void> {
  const hasChange = targeting.hardwareIds?.length || targeting.chids?.length || targeting.restrictedToAudiences !== undefined;
  if (!hasChange) throw new TypeError("a targeting update needs hardwareIds, chids or restrictedToAudiences");
  await client.request("PATCH", labelPath(productId, submissionId, labelId), [200, 204], { targeting });
}

/** PUT .../shippingLabels/{id}/cancel; 204. Only in Microsoft Approval or gradual rollout. */
export async function cancelShippingLabel(client: HdcRequester, productId: string, submissionId: string, labelId: string): Promise<void> {
  await client.request("PUT", `${labelPath(productId, submissionId, labelId)}/cancel`, [200, 202, 204]);
}

/** GET /hardware/audiences */
export async function listAudiences(client: HdcRequester): Promise<Audience[]> {
  const path = "hardware/audiences";
  const body = await client.requestJson("GET", path, [200]);
  if (!isRecord(body) || !Array.isArray(body.value)) throw invalid("GET", path, "expected {value: [audiences]}");
  return body.value.filter(isRecord).flatMap((item) => {
    const audienceId = idText(item.id);
    if (audienceId === undefined) return [];
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    return [{ id: audienceId, name: text(item.name), audienceName: text(item.audienceName), description: text(item.description) }];
  });
}

/** The label's status as a phase; no URL survives (the errorReport SAS only sets hasErrorReport). */
export function labelStatus(label: ShippingLabel, options?: NormalizeLabelOptions): NormalizedLabelStatus {
  return normalizeLabelStatus(label.workflowStatus ?? undefined, options);
}

/** The errorReport SAS URL of a failed label: a secret, for the activity that reads it, never to store. */
export function labelErrorReportUrl(label: ShippingLabel): string | undefined {
  const report = label.workflowStatus?.errorReport;
  return typeof report === "string" && report.trim() !== "" ? report : undefined;
}

/** The portal page of a label, for people (shipping-labels.md section 1). */
export function labelPortalUrl(productId: string, submissionId: string, labelId: string): string {
  return `https://partner.microsoft.com/en-us/dashboard/hardware/driver/${id("productId", productId)}/submission/${id("submissionId", submissionId)}/ShippingLabel/${id("shippingLabelId", labelId)}`;
}
