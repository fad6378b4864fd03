/**
 * The Authenticode signature embedded in a CAB, read offline. A signed cabinet (as signtool and
 * osslsigncode write it) has a header reserve of at least 20 bytes whose first four are
 * 00 00 10 00, followed by the signature's offset and length (little-endian); the signature, a DER
 * PKCS#7 SignedData, lies after the cabinet data (at cbCabinet). Only what the preflight needs is
 * decoded: the digest algorithms and the signer's certificate (validity, policies, EKU, thumbprints).
 * Nothing here verifies the signature cryptographically: that is Microsoft's job at ingestion.
 */
import { createHash, X509Certificate } from "node:crypto";
import type { CabListing } from "./cab";
import { children, context, DerError, type DerNode, equalBytes, expectTag, oidOf, readNode, TAG, timeOf } from "./der";
import { MAX_SIGNATURE_BYTES } from "./limits";
import type { RangeReader } from "./rangeReader";

export const OID = {
  signedData: "1.2.840.113549.1.7.2",
  spcIndirectData: "1.3.6.1.4.1.311.2.1.4",
  certificatePolicies: "2.5.29.32",
  extKeyUsage: "2.5.29.37",
  subjectKeyIdentifier: "2.5.29.14",
  /** CA/Browser Forum: EV code signing. */
  evCodeSigning: "2.23.140.1.3",
  codeSigning: "1.3.6.1.5.5.7.3.3",
} as const;

const DIGESTS: Record<string, string> = {
  "1.2.840.113549.2.5": "md5",
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

export interface SignerCertificate {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  policies: string[];
  /** Extended key usages; empty when the certificate has no EKU extension (any use). */
  extendedKeyUsages: string[];
  thumbprintSha1: string;
  thumbprintSha256: string;
}

export interface CabSignature {
  /** Where the PKCS#7 lies in the file. */
  offset: number;
  length: number;
  /** The signer's digest algorithm (SignerInfo.digestAlgorithm), e.g. "sha256"; the OID when unknown. */
  digestAlgorithm: string;
  /** The algorithm of the file hash inside SpcIndirectDataContent (signtool /fd, osslsigncode -h). */
  fileDigestAlgorithm: string;
  signer: SignerCertificate;
  certificateCount: number;
}

export type SignatureRead = { kind: "unsigned" } | { kind: "signed"; signature: CabSignature } | { kind: "unreadable"; reason: string };

const RESERVE_MARKER = [0x00, 0x00, 0x10, 0x00];
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;

/** Reads the signature a cabinet's header reserve points at. Never throws for a bad signature. */
export async function readCabSignature(reader: RangeReader, listing: CabListing): Promise<SignatureRead> {
  const reserve = listing.headerReserve;
  if (reserve.length < 12 || !RESERVE_MARKER.every((byte, i) => reserve[i] === byte)) return { kind: "unsigned" };
  const offset = u32(reserve, 4);
  const length = u32(reserve, 8);
  if (length === 0) return { kind: "unsigned" };
  if (length > MAX_SIGNATURE_BYTES) return { kind: "unreadable", reason: `the header says the signature is ${length} bytes, over the ${MAX_SIGNATURE_BYTES}-byte limit` };
  if (offset < listing.declaredSize || offset + length > reader.size) {
    return { kind: "unreadable", reason: `the header says the signature lies at bytes ${offset}..${offset + length}, outside the ${reader.size}-byte file after the ${listing.declaredSize}-byte cabinet` };
  }
  try {
    return { kind: "signed", signature: { offset, length, ...parseSignedData(await reader.read(offset, length)) } };
  } catch (error) {
    if (error instanceof DerError) return { kind: "unreadable", reason: error.message };
    // X509Certificate throws plain errors for a certificate it cannot parse.
    if (error instanceof Error && /certificate|asn1|decod/i.test(error.message)) return { kind: "unreadable", reason: `a certificate does not parse: ${error.message}` };
    throw error;
  }
}

const digestName = (algorithmIdentifier: DerNode, what: string) => {
  const oid = oidOf(expectTag(children(expectTag(algorithmIdentifier, TAG.sequence, what))[0], TAG.oid, `${what}'s algorithm`));
  return DIGESTS[oid] ?? oid;
};

/** ContentInfo → SignedData → (file digest algorithm, signer's digest algorithm, signer certificate). */
export function parseSignedData(bytes: Uint8Array): Omit<CabSignature, "offset" | "length"> {
  // osslsigncode pads the signature to a multiple of 8 bytes: only the first node counts.
  const contentInfo = children(expectTag(readNode(bytes), TAG.sequence, "the signature (ContentInfo)"));
  const type = oidOf(expectTag(contentInfo[0], TAG.oid, "the ContentInfo's type"));
  if (type !== OID.signedData) throw new DerError(`the signature's content type is ${type}, not PKCS#7 SignedData (${OID.signedData})`);
  const signedData = children(expectTag(children(expectTag(contentInfo[1], context(0), "the SignedData wrapper"))[0], TAG.sequence, "the SignedData"));
  const encap = children(expectTag(signedData[2], TAG.sequence, "the SignedData's content"));
  const encapType = oidOf(expectTag(encap[0], TAG.oid, "the signed content's type"));
  if (encapType !== OID.spcIndirectData) throw new DerError(`the signed content is ${encapType}, not Authenticode's SpcIndirectDataContent (${OID.spcIndirectData})`);
  const indirect = children(expectTag(children(expectTag(encap[1], context(0), "the SpcIndirectDataContent wrapper"))[0], TAG.sequence, "the SpcIndirectDataContent"));
  const digestInfo = children(expectTag(indirect[1], TAG.sequence, "the file digest (DigestInfo)"));
  const fileDigestAlgorithm = digestName(digestInfo[0], "the file digest");

  let next = 3;
  let certificates: DerNode[] = [];
  if (signedData[next]?.tag === context(0)) certificates = children(signedData[next++]);
  if (signedData[next]?.tag === context(1)) next++; // CRLs
  const signerInfos = children(expectTag(signedData[next], TAG.set, "the SignerInfos"));
  if (signerInfos.length !== 1) throw new DerError(`the signature has ${signerInfos.length} signers; Authenticode has exactly one`);
  const signerInfo = children(expectTag(signerInfos[0], TAG.sequence, "the SignerInfo"));
  const sid = signerInfo[1];
  const digestAlgorithm = digestName(signerInfo[2], "the signer's digest");
  const signerDer = certificates.find((certificate) => matchesSid(certificate, sid));
  if (!signerDer) throw new DerError(`the signer's certificate is not among the ${certificates.length} certificates in the signature`);
  return { digestAlgorithm, fileDigestAlgorithm, signer: describeCertificate(signerDer), certificateCount: certificates.length };
}

interface TbsFields {
  serial: DerNode;
  issuer: DerNode;
  validity: DerNode;
  extensions: Map<string, Uint8Array>;
}

function tbsFields(certificate: DerNode): TbsFields {
  const tbs = children(expectTag(children(expectTag(certificate, TAG.sequence, "a certificate"))[0], TAG.sequence, "a certificate's TBSCertificate"));
  const start = tbs[0]?.tag === context(0) ? 1 : 0;
  const extensions = new Map<string, Uint8Array>();
  const extensionsNode = tbs.slice(start + 6).find((node) => node.tag === context(3));
  if (extensionsNode) {
    for (const extension of children(expectTag(children(extensionsNode)[0], TAG.sequence, "a certificate's extensions"))) {
      const parts = children(expectTag(extension, TAG.sequence, "an extension"));
      extensions.set(oidOf(parts[0]), expectTag(parts[parts.length - 1], TAG.octetString, "an extension's value").content);
    }
  }
  return {
    serial: expectTag(tbs[start], TAG.integer, "a certificate's serial number"),
    issuer: expectTag(tbs[start + 2], TAG.sequence, "a certificate's issuer"),
    validity: expectTag(tbs[start + 3], TAG.sequence, "a certificate's validity"),
    extensions,
  };
}

/** SignerIdentifier: issuerAndSerialNumber (a SEQUENCE) or [0] subjectKeyIdentifier. */
export function matchesSid(certificate: DerNode, sid: DerNode | undefined): boolean {
  if (!sid) throw new DerError("the SignerInfo has no signer identifier");
  const fields = tbsFields(certificate);
  if (sid.tag === TAG.sequence) {
    const [issuer, serial] = children(sid);
    return !!issuer && !!serial && equalBytes(issuer.der, fields.issuer.der) && equalBytes(serial.content, fields.serial.content);
  }
  if (sid.tag === 0x80) {
    const ski = fields.extensions.get(OID.subjectKeyIdentifier);
    return !!ski && equalBytes(readNode(ski).content, sid.content);
  }
  throw new DerError(`the signer identifier has tag 0x${sid.tag.toString(16)}`);
}

export function describeCertificate(certificate: DerNode): SignerCertificate {
  const fields = tbsFields(certificate);
  const [notBefore, notAfter] = children(fields.validity).map(timeOf);
  const policiesValue = fields.extensions.get(OID.certificatePolicies);
  const policies = policiesValue ? children(readNode(policiesValue)).map((info) => oidOf(children(info)[0])) : [];
  const ekuValue = fields.extensions.get(OID.extKeyUsage);
  const extendedKeyUsages = ekuValue ? children(readNode(ekuValue)).map(oidOf) : [];
  const der = Buffer.from(certificate.der);
  const x509 = new X509Certificate(der);
  return {
    subject: x509.subject.replace(/\n/g, ", "),
    issuer: x509.issuer.replace(/\n/g, ", "),
    serialNumber: x509.serialNumber,
    notBefore,
    notAfter,
    policies,
    extendedKeyUsages,
    thumbprintSha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    thumbprintSha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
  };
}
