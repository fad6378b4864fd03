/**
 * The Hardware Dev Center emulator's local signing chain, made once per data directory with
 * openssl (local only: nothing here is deployed):
 *   root.pem        "HDC Emulator Test Root" (a CA), trusted by local runs through
 *                   SIGNED_PACKAGE_TRUSTED_ROOTS, never by a deployed app (config.ts refuses it);
 *   publisher.pem   "Windows Hardware Compatibility Publisher" (O=HDC emulator), issued by the root,
 *                   with the WHQL EKU 1.3.6.1.4.1.311.10.3.5: what signs the emulator's catalogs;
 *   untrusted-*.pem the same names under a second root nobody trusts (the "untrusted root" case);
 *   noeku.pem       issued by the trusted root without the WHQL EKU (the "no WHQL EKU" case).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const WHQL_EKU = "1.3.6.1.4.1.311.10.3.5";
/** Windows Hardware Driver Attested Verification: what attestation signing's publisher certificate carries. */
export const ATTESTED_EKU = "1.3.6.1.4.1.311.10.3.5.1";
const OPENSSL = "openssl";

export interface ChainSigner {
  certificatePem: string;
  keyPem: string;
  /** The rest of the chain as a catalog carries it (its root). */
  extraCertificatesPem: string[];
}

export interface SigningChain {
  dir: string;
  /** The test root's PEM file: the value of SIGNED_PACKAGE_TRUSTED_ROOTS in local runs. */
  rootFile: string;
  rootPem: string;
  publisher: ChainSigner;
  untrusted: ChainSigner;
  noWhqlEku: ChainSigner;
  /** A publisher with only the attested-verification EKU (an attestation-signed catalog). */
  attested: ChainSigner;
}

const EXTENSIONS = `[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[publisher]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${WHQL_EKU},codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[attested]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${ATTESTED_EKU},codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[noeku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const FILES = ["root.pem", "root.key", "publisher.pem", "publisher.key", "untrusted-root.pem", "untrusted-root.key", "untrusted-publisher.pem", "untrusted-publisher.key", "noeku.pem", "noeku.key", "attested.pem", "attested.key"];

/** The chain in `dir`, made there first if any part is missing (several processes may race: one directory wins). */
export function loadOrCreateSigningChain(dir: string): SigningChain {
  const complete = () => FILES.every((file) => fs.existsSync(path.join(dir, file)));
  if (!complete()) create(dir, complete);
  const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
  const signer = (name: string, root: string): ChainSigner => ({ certificatePem: read(`${name}.pem`), keyPem: read(`${name}.key`), extraCertificatesPem: [read(root)] });
  return {
    dir,
    rootFile: path.join(dir, "root.pem"),
    rootPem: read("root.pem"),
    publisher: signer("publisher", "root.pem"),
    untrusted: signer("untrusted-publisher", "untrusted-root.pem"),
    noWhqlEku: signer("noeku", "root.pem"),
    attested: signer("attested", "root.pem"),
  };
}

/** Makes the chain in a scratch directory and renames it to `dir` whole, so no reader sees half a chain. */
function create(dir: string, complete: () => boolean): void {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const work = fs.mkdtempSync(`${dir}.making-`);
  const run = (args: string[]) => execFileSync(OPENSSL, args, { cwd: work, stdio: "pipe" });
  fs.writeFileSync(path.join(work, "ext.cnf"), EXTENSIONS);
  let serial = Date.now();
  const root = (name: string, cn: string) => {
    run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "3650", "-subj", `/O=HDC emulator (local test only)/CN=${cn}`, "-config", "ext.cnf", "-extensions", "root"]);
  };
  const leaf = (name: string, cn: string, issuer: string, extensions: string) => {
    run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/O=HDC emulator (local test only)/CN=${cn}`, "-config", "ext.cnf"]);
    run(["x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.pem`, "-CAkey", `${issuer}.key`, "-set_serial", String(serial++), "-days", "825", "-sha256", "-extfile", "ext.cnf", "-extensions", extensions, "-out", `${name}.pem`]);
  };
  try {
    makeAll(root, leaf);
    if (fs.existsSync(dir) && !complete()) fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(work, dir);
    } catch (error) {
      // Another process made it first: its chain is the one.
      if (!complete()) throw error;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function makeAll(root: (name: string, cn: string) => void, leaf: (name: string, cn: string, issuer: string, extensions: string) => void): void {
  root("root", "HDC Emulator Test Root");
  leaf("publisher", "Windows Hardware Compatibility Publisher", "root", "publisher");
  leaf("noeku", "Code Signing without the WHQL EKU", "root", "noeku");
  leaf("attested", "Windows Hardware Compatibility Publisher (attested)", "root", "attested");
  root("untrusted-root", "HDC Emulator Test Root");
  leaf("untrusted-publisher", "Windows Hardware Compatibility Publisher", "untrusted-root", "publisher");
}
