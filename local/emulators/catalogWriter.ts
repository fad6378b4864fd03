/**
 * Writes a driver catalog the way Microsoft's signing returns one, for the Hardware Dev Center
 * emulator: a PKCS#7 SignedData (DER) whose content is a certificate trust list (CTL,
 * 1.3.6.1.4.1.311.10.1) with one member per file (its name and SHA-256), signed over the signed
 * attributes (contentType, messageDigest of the list's value octets) with a key from the local
 * test chain (signingChain.ts). Member hashes are flat SHA-256 of each file (Microsoft uses the
 * Authenticode hash for PE files; the emulator's placeholder binaries are not PE).
 */
import { createHash, sign, X509Certificate } from "node:crypto";
import { children, readNode, TAG } from "../../src/preflight/der";

const OID = {
  signedData: "1.2.840.113549.1.7.2",
  ctl: "1.3.6.1.4.1.311.10.1",
  catalogList: "1.3.6.1.4.1.311.12.1.1",
  catalogMemberList: "1.3.6.1.4.1.311.12.1.2",
  catNameValue: "1.3.6.1.4.1.311.12.2.1",
  spcIndirectData: "1.3.6.1.4.1.311.2.1.4",
  spcCabData: "1.3.6.1.4.1.311.2.1.25",
  sha256: "2.16.840.1.101.3.4.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
} as const;

// A minimal DER writer: definite lengths, SET OF sorted by encoding (DER), nothing else needed.
function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}
const seq = (...parts: Uint8Array[]) => tlv(TAG.sequence, Buffer.concat(parts));
const setOf = (...parts: Uint8Array[]) => tlv(TAG.set, Buffer.concat([...parts].map((p) => Buffer.from(p)).sort(Buffer.compare)));
const explicit = (n: number, ...parts: Uint8Array[]) => tlv(0xa0 | n, Buffer.concat(parts));
const octets = (bytes: Uint8Array) => tlv(TAG.octetString, bytes);
const nullValue = () => Buffer.from([TAG.null, 0]);
const integer = (value: number) => {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(TAG.integer, Buffer.from(bytes));
};
const bmpString = (text: string) => tlv(0x1e, Buffer.from(text, "utf16le").swap16());
function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const bytes: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}
function utcTime(when: Date): Buffer {
  const two = (n: number) => String(n).padStart(2, "0");
  const text = `${two(when.getUTCFullYear() % 100)}${two(when.getUTCMonth() + 1)}${two(when.getUTCDate())}${two(when.getUTCHours())}${two(when.getUTCMinutes())}${two(when.getUTCSeconds())}Z`;
  return tlv(TAG.utcTime, Buffer.from(text, "latin1"));
}
const algorithm = (dotted: string) => seq(oid(dotted), nullValue());

export interface CatalogFile {
  /** The file's name in its driver folder, e.g. "contoso.inf". */
  name: string;
  data: Uint8Array;
}

export interface CatalogSigner {
  /** The signer's certificate (PEM), then any others to include (intermediates, root), PEM each. */
  certificatePem: string;
  keyPem: string;
  extraCertificatesPem?: string[];
}

/** The certificate trust list: one member per file (tag = the hash in hex, file name, SPC_INDIRECT_DATA with the SHA-256). */
export function trustList(files: readonly CatalogFile[], listIdentifier: Uint8Array, thisUpdate: Date): Buffer {
  const members = files.map((file) => {
    const digest = createHash("sha256").update(file.data).digest();
    const nameValue = seq(oid(OID.catNameValue), setOf(seq(bmpString("File"), integer(0x10010001), octets(Buffer.from(`${file.name}\0`, "utf16le")))));
    const indirect = seq(oid(OID.spcIndirectData), setOf(seq(seq(oid(OID.spcCabData)), seq(algorithm(OID.sha256), octets(digest)))));
    return seq(octets(Buffer.from(digest.toString("hex").toUpperCase(), "utf16le")), setOf(nameValue, indirect));
  });
  return seq(seq(oid(OID.catalogList)), octets(listIdentifier), utcTime(thisUpdate), algorithm(OID.catalogMemberList), seq(...members));
}

/** A signed catalog of `files`. `tamper` changes the list after signing (a catalog whose signature no longer covers it). */
export function writeCatalog(files: readonly CatalogFile[], signer: CatalogSigner, options: { now?: Date; tamper?: boolean } = {}): Buffer {
  const now = options.now ?? new Date();
  const listIdentifier = createHash("sha256").update(files.map((f) => f.name).join("\0")).digest().subarray(0, 16);
  const list = trustList(files, listIdentifier, now);
  // PKCS#7 (as MakeCat and Authenticode): the digest covers the list's value octets, without its tag and length.
  const digest = createHash("sha256").update(readNode(list).content).digest();
  const attributes = [
    seq(oid(OID.contentType), setOf(oid(OID.ctl))),
    seq(oid(OID.signingTime), setOf(utcTime(now))),
    seq(oid(OID.messageDigest), setOf(octets(digest))),
  ];
  const signedAttributes = setOf(...attributes); // signed as a SET, stored as [0] IMPLICIT
  const signature = sign("sha256", signedAttributes, signer.keyPem);

  const certificate = new X509Certificate(signer.certificatePem);
  const certificateDer = certificate.raw;
  const tbs = children(children(readNode(certificateDer))[0]);
  const start = tbs[0].tag === 0xa0 ? 1 : 0;
  const issuerAndSerial = seq(tbs[start + 2].der, tbs[start].der);
  const signerInfo = seq(integer(1), issuerAndSerial, algorithm(OID.sha256), Buffer.concat([Buffer.from([0xa0]), signedAttributes.subarray(1)]), algorithm(OID.rsaEncryption), octets(signature));
  const certificates = [certificateDer, ...(signer.extraCertificatesPem ?? []).map((pem) => new X509Certificate(pem).raw)];
  const content = options.tamper ? trustList([...files, { name: "added-after-signing.sys", data: Buffer.from("MZ") }], listIdentifier, now) : list;
  const signedData = seq(integer(1), setOf(algorithm(OID.sha256)), seq(oid(OID.ctl), explicit(0, content)), explicit(0, ...certificates), setOf(signerInfo));
  return seq(oid(OID.signedData), explicit(0, signedData));
}
