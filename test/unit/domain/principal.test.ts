/**
 * The X-MS-CLIENT-PRINCIPAL parser (src/domain/principal.ts): the platform's Base64 JSON, claims
 * under their short and long names, roles under "roles" and under role_typ; anything malformed is
 * no principal at all.
 */
import { CLAIM_TYPES, callerFromPrincipal, encodeClientPrincipal, parseClientPrincipal, type ClientPrincipal } from "../../../src/domain/principal";

const OID = "6f1c2a5e-1111-4222-a333-444455556666";

function principal(claims: [string, string][], extra: Partial<ClientPrincipal> = {}): ClientPrincipal {
  return {
    auth_typ: "aad",
    name_typ: CLAIM_TYPES.name,
    role_typ: CLAIM_TYPES.role,
    claims: claims.map(([typ, val]) => ({ typ, val })),
    ...extra,
  };
}
const header = (p: unknown) => Buffer.from(JSON.stringify(p)).toString("base64");

describe("parseClientPrincipal", () => {
  it("reads a user as App Service sends it: oid under its long name, roles one claim each, name, tenant, azp", () => {
    const caller = parseClientPrincipal(
      encodeClientPrincipal(
        principal([
          [CLAIM_TYPES.objectId, OID],
          [CLAIM_TYPES.tenantId, "tenant-1"],
          ["azp", "client-app"],
          ["name", "Alice"],
          ["preferred_username", "alice@contoso.com"],
          ["roles", "Sign.Submit"],
          ["roles", "Sign.Publish"],
          ["roles", "Something.Else"],
        ]),
      ),
    );
    expect(caller).toEqual({
      identityProvider: "aad",
      objectId: OID,
      tenantId: "tenant-1",
      clientAppId: "client-app",
      name: "Alice",
      isApplication: false,
      roles: ["Sign.Submit", "Sign.Publish", "Something.Else"],
      signRoles: ["Sign.Submit", "Sign.Publish"],
    });
  });

  it("reads an application: short oid, appid (v1), roles under role_typ, idtyp app", () => {
    const caller = parseClientPrincipal(
      header(principal([["oid", OID], ["appid", "pipeline-app"], ["idtyp", "app"], [CLAIM_TYPES.role, "Sign.Operate"]])),
    );
    expect(caller).toMatchObject({ objectId: OID, clientAppId: "pipeline-app", isApplication: true, roles: ["Sign.Operate"], signRoles: ["Sign.Operate"] });
  });

  it("honours a custom role_typ and name_typ", () => {
    const caller = parseClientPrincipal(header(principal([["oid", OID], ["my-role", "Sign.Approve"], ["my-name", "Bob"]], { role_typ: "my-role", name_typ: "my-name" })));
    expect(caller).toMatchObject({ roles: ["Sign.Approve"], signRoles: ["Sign.Approve"], name: "Bob" });
  });

  it("a principal without any of the four roles has signRoles []", () => {
    expect(parseClientPrincipal(header(principal([["oid", OID], ["roles", "sign.submit"]])))?.signRoles).toEqual([]);
  });

  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["not Base64", "%%%not-base64%%%"],
    ["Base64 of not JSON", Buffer.from("hello").toString("base64")],
    ["a JSON array", header([])],
    ["no auth_typ", header({ claims: [{ typ: "oid", val: OID }] })],
    ["claims not an array", header({ auth_typ: "aad", claims: { oid: OID } })],
    ["a claim value that is not a string", header({ auth_typ: "aad", claims: [{ typ: "oid", val: 42 }] })],
    ["a null claim", header({ auth_typ: "aad", claims: [null] })],
    ["role_typ not a string", header({ auth_typ: "aad", role_typ: 1, claims: [{ typ: "oid", val: OID }] })],
    ["no object id", header(principal([["roles", "Sign.Submit"], ["name", "x"]]))],
  ])("%s is no principal", (_label, value) => {
    expect(parseClientPrincipal(value as string | undefined)).toBeUndefined();
  });

  it("callerFromPrincipal takes the first oid and de-duplicates roles", () => {
    const caller = callerFromPrincipal(principal([["oid", OID], ["oid", "other"], ["roles", "Sign.Submit"], [CLAIM_TYPES.role, "Sign.Submit"]]));
    expect(caller).toMatchObject({ objectId: OID, roles: ["Sign.Submit"] });
  });
});
