/**
 * A small, bounded reader of DER (ASN.1 Distinguished Encoding Rules): enough to walk a PKCS#7
 * SignedData and the X.509 certificates in it. Definite lengths only (DER has no other); every
 * length is checked against the bytes it claims to lie in, and no node is decoded until asked.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

export interface DerNode {
  /** The identifier octet (class, constructed bit and tag number below 31). */
  tag: number;
  /** The whole encoding: identifier, length and content. */
  der: Uint8Array;
  content: Uint8Array;
}

export const TAG = { integer: 0x02, octetString: 0x04, null: 0x05, oid: 0x06, utcTime: 0x17, generalizedTime: 0x18, sequence: 0x30, set: 0x31 } as const;
/** [n] context-specific, constructed. */
export const context = (n: number) => 0xa0 | n;

/** The node starting at `offset` of `bytes`. */
export function readNode(bytes: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > bytes.length) throw new DerError(`a DER node at ${offset} runs past the ${bytes.length} bytes it lies in`);
  const tag = bytes[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte DER tags (at ${offset}) are not used by PKCS#7 or X.509`);
  let length = bytes[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError(`an indefinite length (at ${offset}) is BER, not DER`);
    if (count > 4) throw new DerError(`a length of ${count} bytes (at ${offset}) is more than any signature needs`);
    if (offset + 2 + count > bytes.length) throw new DerError(`the length at ${offset} runs past the data`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i];
    header += count;
  }
  if (offset + header + length > bytes.length) throw new DerError(`a DER node at ${offset} claims ${length} bytes, past the ${bytes.length} it lies in`);
  return { tag, der: bytes.subarray(offset, offset + header + length), content: bytes.subarray(offset + header, offset + header + length) };
}

/** The nodes inside a constructed node, in order. */
export function children(node: DerNode): DerNode[] {
  const result: DerNode[] = [];
  let at = 0;
  while (at < node.content.length) {
    const child = readNode(node.content, at);
    result.push(child);
    at += child.der.length;
  }
  return result;
}

/** The node, checked to have `tag` (`what` names it in the error). */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tag !== tag) throw new DerError(`${what} has tag 0x${node.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return node;
}

/** An OBJECT IDENTIFIER's dotted form. */
export function oidOf(node: DerNode): string {
  expectTag(node, TAG.oid, "an object identifier");
  const bytes = node.content;
  if (bytes.length === 0) throw new DerError("an empty object identifier");
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    value = value * 128 + (bytes[i] & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError("an object identifier arc is too large");
    if (!(bytes[i] & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}

/** A UTCTime or GeneralizedTime (the forms X.509 validity uses: ...Z, whole seconds). */
export function timeOf(node: DerNode): Date {
  const text = Buffer.from(node.content).toString("latin1");
  let match: RegExpExecArray | null;
  if (node.tag === TAG.utcTime && (match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(match[1]);
    // RFC 5280 4.1.2.5.1: 50..99 are 19xx, 00..49 are 20xx.
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
  }
  if (node.tag === TAG.generalizedTime && (match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
  }
  throw new DerError(`${JSON.stringify(text)} is not a DER time`);
}

export const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);
