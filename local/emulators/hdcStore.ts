/**
 * Products and submissions the Hardware Dev Center emulator holds, their ids (64-bit, beyond 2^53,
 * kept as bigint), and the validation of create-product requests.
 *
 * With a state file the store survives a restart of the stack, as Microsoft's service does: every
 * change appends the changed product (with its submissions, workflow progress and upload refs),
 * the id counters and the emulator clock as one JSON line (synchronously, so a SIGKILL loses
 * nothing already answered); loading replays the lines and rewrites the file compactly. Ids never
 * repeat after a restart.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EmulatorClock } from "./clock";
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

export interface HdcStorePersistence {
  /** JSON-lines journal; created when missing. */
  file: string;
  /** Restored to at least the saved time on load (workflow progress is counted on this clock). */
  clock: EmulatorClock;
}

interface JournalLine {
  product?: Record<string, unknown>;
  reset?: true;
  productCounter: string;
  submissionCounter: string;
  clock: string;
}

export class HdcStore {
  readonly products = new Map<string, ProductRecord>();
  private productCounter = 0n;
  private submissionCounter = 0n;

  constructor(private readonly persistence?: HdcStorePersistence) {
    if (persistence) this.load(persistence);
  }

  /** Records a created or changed product (no-op without a state file). */
  save(product: ProductRecord): void {
    this.append({ product: productToJson(product) });
  }

  private append(line: Pick<JournalLine, "product" | "reset">): void {
    if (this.persistence) fs.appendFileSync(this.persistence.file, this.journalLine(line, this.persistence.clock), { mode: 0o600 });
  }

  private journalLine(line: Pick<JournalLine, "product" | "reset">, clock: EmulatorClock): string {
    const full: JournalLine = {
      ...line,
      productCounter: this.productCounter.toString(),
      submissionCounter: this.submissionCounter.toString(),
      clock: clock.iso(),
    };
    return JSON.stringify(full) + "\n";
  }

  private load({ file, clock }: HdcStorePersistence): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (!fs.existsSync(file)) return;
    let latestClock = 0;
    const lines = fs.readFileSync(file, "utf8").split("\n");
    lines.forEach((text, index) => {
      if (text.trim() === "") return;
      let line: JournalLine;
      try {
        line = JSON.parse(text) as JournalLine;
      } catch {
        // Only the last line can be cut short (a crash mid-append); anything else is damage.
        if (index >= lines.length - 2) return;
        throw new Error(`${file} line ${index + 1} is not JSON; remove the file (or run with --fresh) to start the emulators empty`);
      }
      if (line.reset) this.products.clear();
      if (line.product) {
        const product = productFromJson(line.product);
        this.products.set(product.id.toString(), product);
      }
      this.productCounter = maxBig(this.productCounter, BigInt(line.productCounter));
      this.submissionCounter = maxBig(this.submissionCounter, BigInt(line.submissionCounter));
      latestClock = Math.max(latestClock, Date.parse(line.clock) || 0);
    });
    if (latestClock > 0) clock.setClock(new Date(latestClock).toISOString());
    // Compact: one line per product (or one with just the counters), written aside and renamed over the journal.
    const products = [...this.products.values()];
    const compacted = products.length > 0 ? products.map((product) => this.journalLine({ product: productToJson(product) }, clock)) : [this.journalLine({}, clock)];
    const temp = `${file}.tmp`;
    fs.writeFileSync(temp, compacted.join(""), { mode: 0o600 });
    fs.renameSync(temp, file);
  }

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
    this.append({ reset: true });
  }
}

const maxBig = (a: bigint, b: bigint) => (a > b ? a : b);

function productToJson(product: ProductRecord): Record<string, unknown> {
  return {
    ...product,
    id: product.id.toString(),
    sharedProductId: product.sharedProductId.toString(),
    submissions: product.submissions.map(({ publishing: _inFlight, ...submission }) => ({
      ...submission,
      id: submission.id.toString(),
      productId: submission.productId.toString(),
    })),
  };
}

function productFromJson(json: Record<string, unknown>): ProductRecord {
  const product = json as unknown as ProductRecord & { id: string; sharedProductId: string };
  return {
    ...product,
    id: BigInt(product.id),
    sharedProductId: BigInt(product.sharedProductId),
    submissions: (product.submissions as unknown as (SubmissionRecord & { id: string; productId: string })[]).map((submission) => ({
      ...submission,
      id: BigInt(submission.id),
      productId: BigInt(submission.productId),
    })),
  };
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
