/**
 * Issue 34, the wiring: which new label runs carry `approval` (and so wait for a second person).
 * Under AUTH_MODE=entra a Windows Update label (and an APPROVAL_PARTNERS partner's) waits, with the
 * submission's owner as requester; a dry run, an unlisted partner and everything under
 * AUTH_MODE=keys (no second person exists) do not.
 */
import { parseConfig } from "../../../src/config";
import { buildSubmitDriverInput } from "../../../src/functions/submissionInput";
import type { PublishPolicy } from "../../../src/domain/publishing";

const base = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" };
const owner = { objectId: "11111111-1111-1111-1111-111111111111", name: "alice" };

function publishOf(policy: PublishPolicy, env: Record<string, string>, withOwner = true) {
  const input = buildSubmitDriverInput(
    { package: { container: "driver-drops", blobName: "contoso.hlkx" }, publish: policy, requestedBy: "http", ...(withOwner ? { owner } : {}) },
    parseConfig({ ...base, ...env }),
  );
  return input.publish!;
}

describe("new label runs and approval", () => {
  test("entra: a Windows Update label waits, requested by the owner, for APPROVAL_DEADLINE_HOURS (default 168)", () => {
    expect(publishOf({ destination: "windowsUpdate" }, { AUTH_MODE: "entra" }).approval).toEqual({ requester: owner, deadlineHours: 168 });
    expect(publishOf({ destination: "windowsUpdate" }, { AUTH_MODE: "entra", APPROVAL_DEADLINE_HOURS: "24" }).approval).toEqual({ requester: owner, deadlineHours: 24 });
  });

  test("entra: a drop nobody owns still waits, with no requester (any Sign.Approve holder decides)", () => {
    expect(publishOf({ destination: "windowsUpdate" }, { AUTH_MODE: "entra" }, false).approval).toEqual({ deadlineHours: 168 });
  });

  test("entra: a dry run and an unlisted partner do not wait; a listed partner does", () => {
    expect(publishOf({ destination: "windowsUpdate", dryRun: true }, { AUTH_MODE: "entra" }).approval).toBeUndefined();
    const partner = { destination: "anotherPartner", receiverPublisherId: "27691110" } as PublishPolicy;
    expect(publishOf(partner, { AUTH_MODE: "entra" }).approval).toBeUndefined();
    expect(publishOf(partner, { AUTH_MODE: "entra", APPROVAL_PARTNERS: "27691110=Fabrikam" }).approval).toEqual({ requester: owner, deadlineHours: 168 });
  });

  test("keys: no label waits (the one key holder would approve their own)", () => {
    expect(publishOf({ destination: "windowsUpdate" }, {}).approval).toBeUndefined();
    expect(publishOf({ destination: "windowsUpdate" }, { AUTH_MODE: "keys" }).approval).toBeUndefined();
  });
});
