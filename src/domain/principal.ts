/**
 * The caller as App Service Authentication (Easy Auth) describes it in `X-MS-CLIENT-PRINCIPAL`:
 * Base64 JSON `{ auth_typ, name_typ, role_typ, claims: [{ typ, val }] }`. Pure parsing only; the
 * header is read in src/identity. Anything malformed is "no principal", never a partial one.
 */

/** The API's app roles (declared on its app registration). */
export const SIGN_ROLES = ["Sign.Submit", "Sign.Publish", "Sign.Approve", "Sign.Operate"] as const;
export type SignRole = (typeof SIGN_ROLES)[number];

export const CLAIM_TYPES = {
  objectId: "http://schemas.microsoft.com/identity/claims/objectidentifier",
  tenantId: "http://schemas.microsoft.com/identity/claims/tenantid",
  /** The platform's default role_typ; Entra tokens carry roles as "roles". */
  role: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
  name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
} as const;

export interface Caller {
  /** "aad" for Entra ID. */
  identityProvider: string;
  /** Entra object id (oid) of the user or service principal. */
  objectId: string;
  tenantId?: string;
  /** The client application the token was issued to (azp; appid in v1 tokens). */
  clientAppId?: string;
  /** name, preferred_username or the name_typ claim, for display. */
  name?: string;
  /** True for an application (client-credentials) token: idtyp "app", or no user name at all. */
  isApplication: boolean;
  /** Every role claim, including ones this app does not know. */
  roles: string[];
  /** The roles of SIGN_ROLES the caller holds. */
  signRoles: SignRole[];
}

export interface PrincipalClaim {
  typ: string;
  val: string;
}

export interface ClientPrincipal {
  auth_typ: string;
  name_typ?: string;
  role_typ?: string;
  claims: PrincipalClaim[];
}

/** Decodes the header's Base64 JSON; undefined when it is not a well-formed principal. */
export function decodeClientPrincipal(header: string | null | undefined): ClientPrincipal | undefined {
  if (!header || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(header.trim())) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.trim(), "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
  const { auth_typ, name_typ, role_typ, claims } = parsed as Record<string, unknown>;
  if (typeof auth_typ !== "string" || auth_typ.length === 0) return undefined;
  if (name_typ !== undefined && typeof name_typ !== "string") return undefined;
  if (role_typ !== undefined && typeof role_typ !== "string") return undefined;
  if (!Array.isArray(claims)) return undefined;
  const checked: PrincipalClaim[] = [];
  for (const claim of claims) {
    if (!claim || typeof claim !== "object") return undefined;
    const { typ, val } = claim as Record<string, unknown>;
    if (typeof typ !== "string" || typeof val !== "string") return undefined;
    checked.push({ typ, val });
  }
  return { auth_typ, name_typ, role_typ, claims: checked };
}

/** The caller of a decoded principal; undefined without an object id (nothing to hold to account). */
export function callerFromPrincipal(principal: ClientPrincipal): Caller | undefined {
  const all = (...types: (string | undefined)[]) =>
    principal.claims.filter((c) => types.some((t) => t !== undefined && c.typ.toLowerCase() === t.toLowerCase())).map((c) => c.val);
  const first = (...types: (string | undefined)[]) => all(...types)[0];
  const objectId = first(CLAIM_TYPES.objectId, "oid");
  if (!objectId) return undefined;
  const roles = [...new Set(all("roles", principal.role_typ ?? CLAIM_TYPES.role, CLAIM_TYPES.role))];
  const name = first("name", "preferred_username", principal.name_typ ?? CLAIM_TYPES.name, CLAIM_TYPES.name);
  const idtyp = first("idtyp");
  return {
    identityProvider: principal.auth_typ,
    objectId,
    tenantId: first(CLAIM_TYPES.tenantId, "tid"),
    clientAppId: first("azp", "appid"),
    name,
    isApplication: idtyp === "app" || (idtyp === undefined && first("preferred_username", "name") === undefined),
    roles,
    signRoles: SIGN_ROLES.filter((role) => roles.includes(role)),
  };
}

export function parseClientPrincipal(header: string | null | undefined): Caller | undefined {
  const principal = decodeClientPrincipal(header);
  return principal ? callerFromPrincipal(principal) : undefined;
}

/** Encodes a principal as the platform sends it (the local runtime's Easy Auth uses this). */
export function encodeClientPrincipal(principal: ClientPrincipal): string {
  return Buffer.from(JSON.stringify(principal), "utf8").toString("base64");
}

/** "keys": function keys only, every key-holder holds every role; "entra": Easy Auth principals. */
export type AuthMode = "keys" | "entra";
