/**
 * JSON parsing for Hardware Dev Center responses. Product and submission ids exceed 2^53, so a
 * plain JSON.parse corrupts them silently (reference/hdc-api.md a.14). Numbers are read as text
 * first and only converted when that loses nothing.
 */
import { isLosslessNumber, parse, type LosslessNumber } from "lossless-json";

/** Fields that are ids: always strings, even when small, so callers never see a number id. */
const ID_FIELDS: ReadonlySet<string> = new Set(["id", "productId", "sharedProductId", "sourceProductId", "sourcePublisherId"]);
/** Fields whose numeric form is really a label (the service sometimes sends the step as a number). */
const STRING_FIELDS: ReadonlySet<string> = new Set(["currentStep"]);

function toPlainValue(key: string, value: LosslessNumber): string | number {
  const text = value.toString();
  if (ID_FIELDS.has(key) || STRING_FIELDS.has(key)) return text;
  // An integer that a double cannot hold keeps its exact digits as a string.
  if (/^-?\d+$/.test(text) && !Number.isSafeInteger(Number(text))) return text;
  return Number(text);
}

export function parseHdcJson(text: string): unknown {
  return parse(text, (key, value) => (isLosslessNumber(value) ? toPlainValue(key, value) : value));
}
