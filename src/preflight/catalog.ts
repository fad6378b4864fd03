/**
 * A driver catalog (.cat) checked the way `signtool verify /kp` does before Windows trusts it: a
 * PKCS#7 SignedData whose content is a certificate trust list (CTL, 1.3.6.1.4.1.311.10.1), one
 * signer whose signature verifies over the content (through the signed attributes' messageDigest
 * when present), a signer certificate with a Windows hardware signing EKU (WHQL
 * 1.3.6.1.4.1.311.10.3.5, or attested verification ...5.1 for attestation signing), and a chain
 * through the certificates in the catalog to one of the trusted roots, each link's signature
 * checked with node:crypto's X509Certificate and each certificate valid at `at`. The catalog's
 * members' hashes are read too, so the caller can see that an INF is listed in it.
 */
import { createHash, verify, X509Certificate } from "node:crypto";
import { describeCertificate, matchesSid, type SignerCertificate } from "./authenticode";
import { children, context, DerError, type DerNode, expectTag, oidOf, readNode, TAG } from "./der";
import { thumbprint256 } from "./trustedRoots";

export const CATALOG_OID = {
  signedData: "1.2.840.113549.1.7.2",
  ctl: "1.3.6.1.4.1.311.10.1",
  whqlCrypto: "1.3.6.1.4.1.311.10.3.5",
  /** Windows Hardware Driver Attested Verification: attestation signing's publisher EKU. */
  attestedVerification: "1.3.6.1.4.1.311.10.3.5.1",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  spcIndirectData: "1.3.6.1.4.1.311.2.1.4",
} as const;

const DIGESTS: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
/** Microsoft has signed catalogs with SHA-256 since Windows 10; SHA-1 signatures are not accepted here. */
const ACCEPTED_SIGNER_DIGESTS = new Set(["sha256", "sha384", "sha512"]);
/** Certificates between the signer and its root; real chains have one intermediate. */
const MAX_CHAIN_LENGTH = 6;
/** How deep the CTL is walked for member hashes (a member's digest sits 6 levels down). */
const MAX_WALK_DEPTH = 12;

export type CatalogCheck = "catalogSignature" | "catalogChain" | "whqlEku";

/** The catalog fails one check; `check` names which. */
export class CatalogError extends Error {
  constructor(
    readonly check: CatalogCheck,
    message: string,
  ) {
    super(message);
    this.name = "CatalogError";
  }
}

export interface VerifiedCatalog {
  signer: SignerCertificate;
  /** Subjects from the signer up to the root, the root last. */
  chain: string[];
  root: { subject: string; thumbprintSha256: string };
  /** Lower-case hex digests of the catalog's members (SHA-1 or SHA-256 of each file, as the catalog lists them). */
  memberDigests: Set<string>;
  members: number;
}

const subjectOf = (certificate: X509Certificate) => certificate.subject.replace(/\n/g, ", ");

/** Verifies one catalog; throws CatalogError naming the check that fails. */
export function verifyCatalog(bytes: Uint8Array, trustedRoots: readonly X509Certificate[], at: Date): VerifiedCatalog {
  let parsed: ReturnType<typeof parseCatalog>;
  try {
    parsed = parseCatalog(bytes);
  } catch (error) {
    if (error instanceof DerError) throw new CatalogError("catalogSignature", `not a readable PKCS#7 catalog: ${error.message}`);
    throw error;
  }
  const { content, certificates, signerInfo } = parsed;

  const [, sid, digestAlgorithm, ...rest] = signerInfo;
  const digest = digestName(digestAlgorithm);
  if (!ACCEPTED_SIGNER_DIGESTS.has(digest)) throw new CatalogError("catalogSignature", `the catalog is signed with ${digest}; SHA-256 or stronger is required`);
  const signedAttributes = rest[0]?.tag === context(0) ? rest.shift()! : undefined;
  const signatureValue = expectTag(rest[1], TAG.octetString, "the signer's signature").content;

  let signedBytes: Uint8Array;
  if (signedAttributes) {
    checkSignedAttributes(signedAttributes, content, digest);
    // The signature covers the attributes as a SET (RFC 2315 9.3), not as the [0] they are stored as.
    signedBytes = Buffer.concat([Buffer.from([TAG.set]), signedAttributes.der.subarray(1)]);
  } else {
    signedBytes = content.content;
  }

  const signerDer = certificates.find((certificate) => matchesSid(certificate, sid));
  if (!signerDer) throw new CatalogError("catalogSignature", `the signer's certificate is not among the ${certificates.length} certificates in the catalog`);
  const signerX509 = new X509Certificate(Buffer.from(signerDer.der));
  let valid = false;
  try {
    valid = verify(digest, signedBytes, signerX509.publicKey, signatureValue);
  } catch (error) {
    throw new CatalogError("catalogSignature", `the signature cannot be checked with the signer's key: ${(error as Error).message}`);
  }
  if (!valid) throw new CatalogError("catalogSignature", `the signature of ${subjectOf(signerX509)} does not verify over the catalog's content`);

  const signer = describeCertificate(signerDer);
  // Either EKU is Microsoft's alone under its root: do not fail an attestation-signed catalog that
  // carries only the attested one.
  if (!signer.extendedKeyUsages.some((eku) => eku === CATALOG_OID.whqlCrypto || eku === CATALOG_OID.attestedVerification)) {
    throw new CatalogError(
      "whqlEku",
      `the signer ${signer.subject} lacks the Windows Hardware Driver Verification EKU (${CATALOG_OID.whqlCrypto}) and the attested one (${CATALOG_OID.attestedVerification}); its EKUs: ${signer.extendedKeyUsages.join(", ") || "(none)"}`,
    );
  }
  const bag = certificates.map((node) => new X509Certificate(Buffer.from(node.der)));
  const { chain, root } = chainToRoot(signerX509, bag, trustedRoots, at);
  const memberDigests = collectMemberDigests(content);
  return { signer, chain: chain.map(subjectOf), root: { subject: subjectOf(root), thumbprintSha256: thumbprint256(root) }, memberDigests, members: memberDigests.size };
}

function parseCatalog(bytes: Uint8Array): { content: DerNode; certificates: DerNode[]; signerInfo: DerNode[] } {
  const contentInfo = children(expectTag(readNode(bytes), TAG.sequence, "the catalog (ContentInfo)"));
  const type = oidOf(expectTag(contentInfo[0], TAG.oid, "the ContentInfo's type"));
  if (type !== CATALOG_OID.signedData) throw new DerError(`the content type is ${type}, not PKCS#7 SignedData (${CATALOG_OID.signedData})`);
  const signedData = children(expectTag(children(expectTag(contentInfo[1], context(0), "the SignedData wrapper"))[0], TAG.sequence, "the SignedData"));
  const encap = children(expectTag(signedData[2], TAG.sequence, "the SignedData's content"));
  const encapType = oidOf(expectTag(encap[0], TAG.oid, "the signed content's type"));
  if (encapType !== CATALOG_OID.ctl) throw new DerError(`the signed content is ${encapType}, not a certificate trust list (${CATALOG_OID.ctl})`);
  const content = children(expectTag(encap[1], context(0), "the catalog's content"))[0];
  if (!content) throw new DerError("the catalog's content is empty");
  let next = 3;
  let certificates: DerNode[] = [];
  if (signedData[next]?.tag === context(0)) certificates = children(signedData[next++]);
  if (signedData[next]?.tag === context(1)) next++; // CRLs
  const signerInfos = children(expectTag(signedData[next], TAG.set, "the SignerInfos"));
  if (signerInfos.length !== 1) throw new DerError(`the catalog has ${signerInfos.length} signers; a catalog has exactly one`);
  return { content, certificates, signerInfo: children(expectTag(signerInfos[0], TAG.sequence, "the SignerInfo")) };
}

function digestName(algorithmIdentifier: DerNode | undefined): string {
  const oid = oidOf(expectTag(children(expectTag(algorithmIdentifier, TAG.sequence, "the signer's digest algorithm"))[0], TAG.oid, "the digest algorithm"));
  return DIGESTS[oid] ?? oid;
}

/** contentType must be the CTL and messageDigest the content's hash. */
function checkSignedAttributes(attributes: DerNode, content: DerNode, digest: string): void {
  const values = new Map<string, DerNode>();
  for (const attribute of children(attributes)) {
    const [type, set] = children(expectTag(attribute, TAG.sequence, "a signed attribute"));
    const value = children(expectTag(set, TAG.set, "a signed attribute's values"))[0];
    if (value) values.set(oidOf(type), value);
  }
  const contentType = values.get(CATALOG_OID.contentType);
  if (!contentType || oidOf(contentType) !== CATALOG_OID.ctl) throw new CatalogError("catalogSignature", "the signed attributes do not name the catalog's content type (CTL)");
  const messageDigest = values.get(CATALOG_OID.messageDigest);
  if (!messageDigest || messageDigest.tag !== TAG.octetString) throw new CatalogError("catalogSignature", "the signed attributes carry no message digest");
  // PKCS#7 hashes the content's value octets (without its tag and length), as Authenticode does;
  // CMS-style writers hash the whole encoding. Either way the digest is under the signature.
  const expected = Buffer.from(messageDigest.content);
  const overValue = createHash(digest).update(content.content).digest();
  const overEncoding = createHash(digest).update(content.der).digest();
  if (!expected.equals(overValue) && !expected.equals(overEncoding)) {
    throw new CatalogError("catalogSignature", "the catalog's content does not match the message digest its signature covers (the list was changed after signing)");
  }
}

const isValidAt = (certificate: X509Certificate, at: Date) => new Date(certificate.validFrom).getTime() <= at.getTime() && at.getTime() <= new Date(certificate.validTo).getTime();

const issuedBy = (child: X509Certificate, issuer: X509Certificate) => {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
};

/** Follows issuers from the signer through the catalog's certificates until a trusted root signs or is reached. */
function chainToRoot(signer: X509Certificate, bag: readonly X509Certificate[], roots: readonly X509Certificate[], at: Date): { chain: X509Certificate[]; root: X509Certificate } {
  const trusted = new Set(roots.map(thumbprint256));
  const chain: X509Certificate[] = [];
  let current = signer;
  for (;;) {
    if (!isValidAt(current, at)) {
      throw new CatalogError("catalogChain", `${subjectOf(current)} is not valid at ${at.toISOString()} (valid ${current.validFrom} to ${current.validTo})`);
    }
    chain.push(current);
    if (trusted.has(thumbprint256(current))) return { chain, root: current };
    const root = roots.find((candidate) => issuedBy(current, candidate));
    if (root) {
      if (!isValidAt(root, at)) throw new CatalogError("catalogChain", `the trusted root ${subjectOf(root)} is not valid at ${at.toISOString()}`);
      return { chain: [...chain, root], root };
    }
    if (chain.length > MAX_CHAIN_LENGTH) throw new CatalogError("catalogChain", `the chain is longer than ${MAX_CHAIN_LENGTH} certificates without reaching a trusted root`);
    const seen = new Set(chain.map(thumbprint256));
    const issuer = bag.find((candidate) => candidate.ca && !seen.has(thumbprint256(candidate)) && issuedBy(current, candidate));
    if (!issuer) {
      const selfSigned = issuedBy(current, current);
      throw new CatalogError(
        "catalogChain",
        selfSigned
          ? `the chain ends at the self-signed ${subjectOf(current)} (SHA-256 ${thumbprint256(current)}), which is not a trusted root`
          : `no issuer of ${subjectOf(current)} (issuer ${current.issuer.replace(/\n/g, ", ")}) is in the catalog or among the trusted roots`,
      );
    }
    current = issuer;
  }
}

/** Every member digest: the DigestInfo inside each SPC_INDIRECT_DATA attribute of the trust list. */
function collectMemberDigests(content: DerNode): Set<string> {
  const digests = new Set<string>();
  const walk = (node: DerNode, depth: number) => {
    if (depth > MAX_WALK_DEPTH || !(node.tag & 0x20)) return;
    let parts: DerNode[];
    try {
      parts = children(node);
    } catch {
      return;
    }
    if (node.tag === TAG.sequence && parts[0]?.tag === TAG.oid && parts[1]?.tag === TAG.set && oidOf(parts[0]) === CATALOG_OID.spcIndirectData) {
      for (const indirect of children(parts[1])) {
        const digestInfo = indirect.tag === TAG.sequence ? children(indirect)[1] : undefined;
        const value = digestInfo?.tag === TAG.sequence ? children(digestInfo)[1] : undefined;
        if (value?.tag === TAG.octetString) digests.add(Buffer.from(value.content).toString("hex"));
      }
      return;
    }
    for (const part of parts) walk(part, depth + 1);
  };
  // A CMS-style writer wraps the list in an OCTET STRING; PKCS#7 (MakeCat) stores the SEQUENCE itself.
  walk(content.tag === TAG.octetString ? readNode(content.content) : content, 0);
  return digests;
}
