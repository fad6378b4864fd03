/**
 * Products and submissions the Hardware Dev Center emulator holds in memory, their ids (64-bit,
 * beyond 2^53, kept as bigint), and the validation of create-product requests.
 */
import type { PublishedPackage, UploadFacts } from "./hdcBlobs";
import type { CommitRecord } from "./workflow";

export interface SubmissionRecord {
  id: bigint;
  productId: bigint;
  name: string;
  type: "initial" | "derived";
  createdDateTime: string;
  /** Blob (a GUID) in the ingestion container the upload SAS points at. */
  uploadBlob: string;
  commit?: CommitRecord;
  /** What had arrived when the commit was accepted. */
  upload?: UploadFacts;
  published?: PublishedPackage;
  /** In-flight publication, so concurrent GETs publish once. */
  publishing?: Promise<void>;
  errorReportBlob?: string;
}

export interface ProductRecord {
  id: bigint;
  sharedProductId: bigint;
  /** The create request's fields as echoed back (testHarness lower-cased). */
  fields: Record<string, unknown>;
  createdDateTime: string;
  updatedDateTime: string;
  isCommitted: boolean;
  submissions: SubmissionRecord[];
}

const FIRST_PRODUCT_ID = 14631253285588838n;
const FIRST_SHARED_PRODUCT_ID = 1152921504607010608n;
const FIRST_SUBMISSION_ID = 1152921504621465124n;

export class HdcStore {
  readonly products = new Map<string, ProductRecord>();
  private productCounter = 0n;
  private submissionCounter = 0n;

  nextProductIds(): { id: bigint; sharedProductId: bigint } {
    const step = this.productCounter++;
    return { id: FIRST_PRODUCT_ID + step, sharedProductId: FIRST_SHARED_PRODUCT_ID + step };
  }

  nextSubmissionId(): bigint {
    return FIRST_SUBMISSION_ID + this.submissionCounter++;
  }

  product(productId: string): ProductRecord | undefined {
    return this.products.get(productId);
  }

  /** Ids keep counting after a reset, so a client cannot mistake a new product for an old one. */
  clear(): void {
    this.products.clear();
  }
}

export interface ValidationError {
  target: string;
  message: string;
}

const TEST_HARNESSES = ["hlk", "hck", "attestation", "notset"];
const DEVICE_TYPES = ["internal", "external", "internalExternal", "notSet"];
const UPDATABLE_PRODUCT_FIELDS = ["announcementDate", "marketingNames", "productName"];

const isStringArray = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === "string");

/** Field checks of POST /hardware/products (reference/hdc-api.md a.5); returns the echoed fields. */
export function validateNewProduct(body: Record<string, unknown>): { fields: Record<string, unknown> } | { errors: ValidationError[] } {
  const errors: ValidationError[] = [];
  const { productName, testHarness, requestedSignatures, deviceType, selectedProductTypes, announcementDate, marketingNames } = body;
  if (typeof productName !== "string" || productName.trim() === "") errors.push({ target: "productName", message: "Product name is required." });
  if (typeof testHarness !== "string" || !TEST_HARNESSES.includes(testHarness.toLowerCase())) {
    errors.push({ target: "testHarness", message: `Test harness is required and must be one of ${TEST_HARNESSES.join(", ")}.` });
  }
  if (!isStringArray(requestedSignatures) || (requestedSignatures as string[]).length === 0) {
    errors.push({ target: "requestedSignatures", message: "At least one requested signature is required." });
  }
  if (deviceType !== undefined && (typeof deviceType !== "string" || !DEVICE_TYPES.includes(deviceType))) {
    errors.push({ target: "deviceType", message: `Device type must be one of ${DEVICE_TYPES.join(", ")}.` });
  }
  if (selectedProductTypes !== undefined && (typeof selectedProductTypes !== "object" || selectedProductTypes === null || Array.isArray(selectedProductTypes))) {
    errors.push({ target: "selectedProductTypes", message: "Selected product types must be an object." });
  }
  if (announcementDate !== undefined && (typeof announcementDate !== "string" || Number.isNaN(Date.parse(announcementDate)))) {
    errors.push({ target: "announcementDate", message: "Announcement date must be an ISO 8601 date." });
  }
  if (marketingNames !== undefined && marketingNames !== null && !isStringArray(marketingNames)) {
    errors.push({ target: "marketingNames", message: "Marketing names must be an array of strings." });
  }
  if (errors.length > 0) return { errors };
  return {
    fields: {
      productName,
      testHarness: (testHarness as string).toLowerCase(),
      announcementDate: announcementDate ?? null,
      deviceMetadataIds: body.deviceMetadataIds ?? [],
      firmwareVersion: body.firmwareVersion ?? "0",
      deviceType: deviceType ?? "notSet",
      isTestSign: body.isTestSign ?? false,
      isFlightSign: body.isFlightSign ?? false,
      marketingNames: marketingNames ?? [],
      selectedProductTypes: selectedProductTypes ?? {},
      requestedSignatures,
      additionalAttributes: body.additionalAttributes ?? {},
    },
  };
}

/** PATCH /hardware/products/{id}: only announcementDate, marketingNames and productName may change. */
export function validateProductUpdate(body: Record<string, unknown>): ValidationError[] {
  return Object.keys(body)
    .filter((key) => !UPDATABLE_PRODUCT_FIELDS.includes(key))
    .map((key) => ({ target: key, message: `Only ${UPDATABLE_PRODUCT_FIELDS.join(", ")} can be updated.` }));
}
