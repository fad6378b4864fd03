/**
 * Wire types of the Hardware Dev Center API (reference/hdc-api.md a.5-a.8), as this app uses them.
 * Ids are decimal strings: the client parses responses losslessly so 64-bit ids survive.
 * Enum-like fields are plain strings because the service mixes camelCase and PascalCase.
 */
import type { HttpMethods } from "@azure/core-rest-pipeline";
import type { ProductFields } from "../domain/types";

export interface HdcLink {
  href: string;
  rel: string;
  method?: string;
}

export interface HdcProduct {
  id: string;
  sharedProductId?: string;
  productName?: string;
  testHarness?: string;
  isCommitted?: boolean;
  createdDateTime?: string;
  links?: HdcLink[];
  [field: string]: unknown;
}

export interface HdcDownloadItem {
  type: string;
  /** A SAS URL: a secret. Never log it, never return it from an activity. */
  url: string;
}

export interface HdcWorkflowStatus {
  /** May arrive as a number on the wire; the client converts it to a string. */
  currentStep?: string | null;
  state?: string | null;
  messages?: string[] | null;
  /** A SAS URL to a text report: a secret. */
  errorReport?: string | null;
}

export interface HdcSubmission {
  id: string;
  productId: string;
  name?: string;
  type?: string;
  commitStatus?: string | null;
  workflowStatus?: HdcWorkflowStatus | null;
  downloads?: { items?: HdcDownloadItem[] | null; messages?: string[] | null } | null;
  createdDateTime?: string;
  links?: HdcLink[];
  [field: string]: unknown;
}

export interface HdcValidationError {
  target?: string;
  message?: string;
}

export interface NewSubmission {
  name: string;
  type: "initial" | "derived";
}

/** Request body of POST /hardware/products. */
export type NewProduct = ProductFields;

/** The operations of the client; activities depend on this interface, tests may substitute it. */
export interface HdcApi {
  /** GET /hardware/products (all pages); `top` limits the first page, e.g. a cheap reachability probe. */
  listProducts(options?: { top?: number }): Promise<HdcProduct[]>;
  getProduct(productId: string): Promise<HdcProduct>;
  createProduct(product: NewProduct): Promise<HdcProduct>;
  listSubmissions(productId: string): Promise<HdcSubmission[]>;
  getSubmission(productId: string, submissionId: string): Promise<HdcSubmission>;
  createSubmission(productId: string, submission: NewSubmission): Promise<HdcSubmission>;
  /** POST .../commit; resolves on 202. */
  commitSubmission(productId: string, submissionId: string): Promise<void>;
  /** Any other HDC request (shipping labels, audiences: shippingLabels.ts), same pipeline and error rules. */
  requestJson(method: HttpMethods, path: string, expected: number[], body?: unknown, options?: { creates?: boolean }): Promise<unknown>;
  request(method: HttpMethods, path: string, expected: number[], body?: unknown): Promise<void>;
  /** A request with a streamed non-JSON body, opened per attempt (preprod upload: preprod.ts). */
  requestJsonWithBody(method: HttpMethods, path: string, expected: number[], body: StreamedBody, options?: { creates?: boolean; timeoutMs?: number }): Promise<unknown>;
  /** A GET whose successful answer is a stream (preprod asset download). */
  requestStream(path: string, expected: number[], options?: { timeoutMs?: number }): Promise<NodeJS.ReadableStream>;
}

/** A request body streamed from elsewhere; `open` is called once per attempt (a retry re-reads it). */
export interface StreamedBody {
  open: () => NodeJS.ReadableStream;
  contentType: string;
  /** Sent as Content-Length when known. */
  contentLength?: number;
}
