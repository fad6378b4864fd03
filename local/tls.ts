/**
 * A local certificate authority for the emulators' HTTPS endpoints (never deployed).
 * @azure/identity refuses http authorities, so the emulators serve HTTPS with a certificate issued
 * by this CA, and Node trusts the CA through NODE_EXTRA_CA_CERTS (read only at process start, so
 * `npm test` runs this file as a CLI first to make sure ca.pem exists).
 * RSA keys come from Node's crypto (node-forge's pure-JS key generation takes seconds);
 * forge only builds and signs the X.509 certificates.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import forge from "node-forge";

export interface LocalCa {
  caCertPath: string;
  caCertPem: string;
  /** The CA's private key: never log it. */
  caKeyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM private key: never log it. */
  keyPem: string;
}

export interface ClientCertificate extends IssuedCertificate {
  /** Certificate followed by its private key: the PEM file ClientCertificateCredential reads. */
  pem: string;
  /** SHA-256 of the DER certificate, upper-case hex (what MSAL sends as x5t#S256, before base64url). */
  thumbprintSha256: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A reused CA must outlive the server certificates it will issue. */
const CA_MIN_REMAINING_MS = 30 * DAY_MS;

function newRsaKeyPair(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  const keyPem = crypto.createPrivateKey(privateKey).export({ type: "pkcs8", format: "pem" }).toString();
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    keyPem,
  };
}

/** Positive random serial (the leading 01 keeps the DER integer positive). */
function randomSerial(): string {
  return "01" + crypto.randomBytes(15).toString("hex");
}

function validity(cert: forge.pki.Certificate, days: number): void {
  // Back-dated an hour so small clock differences between processes do not matter.
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + days * DAY_MS);
}

function createCa(): { caCertPem: string; caKeyPem: string } {
  const keys = newRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, 3650);
  const name = [
    { name: "commonName", value: "Driver signing local runtime CA" },
    { name: "organizationName", value: "Local development only" },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { caCertPem: forge.pki.certificateToPem(cert), caKeyPem: keys.keyPem };
}

function isUsableCa(certPem: string, keyPem: string): boolean {
  try {
    const cert = new crypto.X509Certificate(certPem);
    const key = crypto.createPrivateKey(keyPem);
    return cert.ca && cert.checkPrivateKey(key) && new Date(cert.validTo).getTime() - Date.now() > CA_MIN_REMAINING_MS;
  } catch {
    return false;
  }
}

/** Creates the CA in `dir` (ca.pem, ca-key.pem), or reuses the one already there while it is valid. */
export function ensureLocalCa(dir: string): LocalCa {
  fs.mkdirSync(dir, { recursive: true });
  const caCertPath = path.resolve(dir, "ca.pem");
  const caKeyPath = path.resolve(dir, "ca-key.pem");
  if (fs.existsSync(caCertPath) && fs.existsSync(caKeyPath)) {
    const caCertPem = fs.readFileSync(caCertPath, "utf8");
    const caKeyPem = fs.readFileSync(caKeyPath, "utf8");
    if (isUsableCa(caCertPem, caKeyPem)) return { caCertPath, caCertPem, caKeyPem };
  }
  const { caCertPem, caKeyPem } = createCa();
  // Key first, so a reader never sees a ca.pem without its key.
  fs.writeFileSync(caKeyPath, caKeyPem, { mode: 0o600 });
  fs.writeFileSync(caCertPath, caCertPem);
  return { caCertPath, caCertPem, caKeyPem };
}

function issue(
  ca: LocalCa,
  commonName: string,
  extensions: object[],
  days: number,
): IssuedCertificate & { cert: forge.pki.Certificate } {
  const caCert = forge.pki.certificateFromPem(ca.caCertPem);
  const caKey = forge.pki.privateKeyFromPem(ca.caKeyPem) as forge.pki.rsa.PrivateKey;
  const keys = newRsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, days);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ...extensions,
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert, certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

const IP_PATTERN = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A TLS server certificate for the emulators, issued at each start (SAN: IP 127.0.0.1, DNS localhost). */
export function issueServerCertificate(ca: LocalCa, hosts: string[] = ["127.0.0.1", "localhost"]): IssuedCertificate {
  const altNames = hosts.map((host) => (IP_PATTERN.test(host) ? { type: 7, ip: host } : { type: 2, value: host }));
  const { certPem, keyPem } = issue(
    ca,
    hosts[0] ?? "localhost",
    [
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
    30,
  );
  return { certPem, keyPem };
}

/** A client certificate for the certificate credential mode (register certPem with the Entra emulator). */
export function issueClientCertificate(ca: LocalCa, subject: string): ClientCertificate {
  const { certPem, keyPem } = issue(
    ca,
    subject,
    [
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
    365,
  );
  const der = new crypto.X509Certificate(certPem).raw;
  return {
    certPem,
    keyPem,
    pem: certPem + keyPem,
    thumbprintSha256: crypto.createHash("sha256").update(der).digest("hex").toUpperCase(),
  };
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: node dist/local/tls.js <dir>");
    process.exit(2);
  }
  console.log(ensureLocalCa(dir).caCertPath);
}
