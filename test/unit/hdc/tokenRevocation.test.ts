/**
 * A token revoked before it expires (hour-long lifetime, so MSAL's cache would still serve it):
 * the client's one retry after the 401 must carry a token Entra issued anew.
 */
import { ClientSecretCredential } from "@azure/identity";
import { HdcClient } from "../../../src/hdc";
import { claimsAfterRejection } from "../../../src/hdc/policies";
import { type EmulatorsHandle } from "../../../local/emulators";
import { type EmulatorFixture, startEmulatorFixture } from "../../support/emulatorFixture";

const TENANT = "12121212-1111-2222-3333-444444444444";
const APP = "34343434-1111-2222-3333-444444444444";
const SECRET = "token-revocation-test-secret";

let fixture: EmulatorFixture;
let emulators: EmulatorsHandle;

beforeAll(async () => {
  fixture = await startEmulatorFixture({
    apps: [{ tenantId: TENANT, clientId: APP, clientSecret: SECRET }],
    behaviour: { tokenLifetimeSeconds: 3600 },
  });
  ({ emulators } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

const kinds = () => emulators.requests().entries.map((e) => `${e.kind}:${e.status}`);

it("recovers from a revoked hour-long token with exactly one 401 and one new token", async () => {
  const credential = new ClientSecretCredential(TENANT, APP, SECRET, { authorityHost: emulators.authorityHost, disableInstanceDiscovery: true });
  const client = new HdcClient({ baseUrl: emulators.hdcBaseUrl, credential, scope: "https://manage.devcenter.microsoft.com/.default", timeoutMs: 5000, maxRetries: 0, retryDelayMs: 10 });

  await client.listProducts({ top: 1 });
  const before = kinds().length;
  emulators.revokeAllTokens();
  await client.listProducts({ top: 1 });

  expect(kinds().slice(before)).toEqual(["listProducts:401", "token:200", "listProducts:200"]);
});

it("asks for the service's challenge claims when it sends them, else for a token issued from now on", () => {
  const challenge = Buffer.from('{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}').toString("base64");
  expect(claimsAfterRejection(`Bearer realm="", error="insufficient_claims", claims="${challenge}"`)).toContain("1700000000");
  expect(JSON.parse(claimsAfterRejection(undefined, 1_800_000_000_000))).toEqual({ access_token: { nbf: { essential: true, value: "1800000000" } } });
});
