/**
 * Checks a certificate client assertion (RFC 7523 JWT) as Entra does, for the emulator:
 * signature by the registered certificate's key (RS256 or PS256, as MSAL sends), the thumbprint
 * header (x5t or x5t#S256) naming that certificate, issuer/subject = client id, audience = the
 * token endpoint, and not expired (the client signs with real time, so real time is used here).
 */
import * as crypto from "node:crypto";

export type AssertionCheck = { ok: true } | { ok: false; code: number; description: string };

interface JwtParts {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signedText: string;
  signature: Buffer;
}

export function parseJwt(jwt: string): JwtParts | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")) as Record<string, unknown>,
      claims: JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Record<string, unknown>,
      signedText: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], "base64url"),
    };
  } catch {
    return undefined;
  }
}

function signatureIsValid(jwt: JwtParts, publicKey: crypto.KeyObject): boolean {
  const data = Buffer.from(jwt.signedText);
  if (jwt.header.alg === "RS256") return crypto.verify("sha256", data, publicKey, jwt.signature);
  if (jwt.header.alg === "PS256") {
    return crypto.verify(
      "sha256",
      data,
      { key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO },
      jwt.signature,
    );
  }
  return false;
}

export function checkCertificateAssertion(
  assertion: string,
  options: { certificatePem: string; clientId: string; tokenEndpoint: string },
): AssertionCheck {
  const jwt = parseJwt(assertion);
  if (!jwt) return { ok: false, code: 50027, description: "AADSTS50027: JWT token is invalid or malformed." };
  const certificate = new crypto.X509Certificate(options.certificatePem);
  const sha1 = crypto.createHash("sha1").update(certificate.raw).digest("base64url");
  const sha256 = crypto.createHash("sha256").update(certificate.raw).digest("base64url");
  const named = jwt.header["x5t#S256"] ?? jwt.header.x5t;
  if (named !== undefined && named !== sha1 && named !== sha256) {
    return { ok: false, code: 700027, description: "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application." };
  }
  if (!signatureIsValid(jwt, certificate.publicKey)) {
    return { ok: false, code: 700027, description: "AADSTS700027: Client assertion contains an invalid signature." };
  }
  const { iss, sub, aud, exp } = jwt.claims;
  if (iss !== options.clientId || sub !== options.clientId) {
    return { ok: false, code: 700023, description: "AADSTS700023: Client assertion issuer and subject must be the client id." };
  }
  const audiences = Array.isArray(aud) ? aud : [aud];
  const endpoint = options.tokenEndpoint.replace(/\/+$/, "");
  if (!audiences.some((value) => typeof value === "string" && value.replace(/\/+$/, "") === endpoint)) {
    return { ok: false, code: 700212, description: `AADSTS700212: Client assertion audience claim does not match. Expected '${endpoint}'.` };
  }
  if (typeof exp !== "number" || exp * 1000 < Date.now()) {
    return { ok: false, code: 700024, description: "AADSTS700024: Client assertion is not within its valid time range." };
  }
  return { ok: true };
}
