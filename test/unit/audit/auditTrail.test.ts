/**
 * The HTTP side of the audit trail (functions/auditTrail.ts), one branch at a time with the store
 * mocked (the store itself runs against Azurite in store.test.ts; the whole path in the audit e2e):
 * a state-changing action whose record cannot be written is not done; reads are recorded only when
 * refused; the outcome follows the answer.
 */
import { HttpRequest, InvocationContext } from "@azure/functions";
import type { AuditRecord } from "../../../src/domain/audit";
import { resetConfigCache } from "../../../src/config";

const written: AuditRecord[] = [];
jest.mock("../../../src/audit/store", () => ({
  auditStoreReady: jest.fn(async () => undefined),
  writeAuditRecord: jest.fn(async (_s: unknown, _c: unknown, record: AuditRecord) => {
    written.push(record);
    return "name";
  }),
}));
import { auditStoreReady, writeAuditRecord } from "../../../src/audit/store";
import { audited, clientAddressOf, noteAudit, outcomeOf } from "../../../src/functions/auditTrail";
import type { Caller } from "../../../src/domain/principal";

const alice: Caller = { identityProvider: "aad", objectId: "oid-alice", name: "alice", clientAppId: "app-1", isApplication: false, roles: ["Sign.Submit"], signRoles: ["Sign.Submit"] };

beforeAll(() => {
  Object.assign(process.env, { AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" });
  resetConfigCache();
});
beforeEach(() => {
  written.length = 0;
  jest.mocked(auditStoreReady).mockClear();
  jest.mocked(writeAuditRecord).mockClear();
});

const request = (params: Record<string, string> = {}) =>
  new HttpRequest({ method: "POST", url: "http://127.0.0.1/api/x", headers: { "x-forwarded-for": "192.0.2.1, 198.51.100.4:50123" }, params });
const context = () => new InvocationContext({ functionName: "f", invocationId: `inv-${Math.random()}`, logHandler: () => undefined });

test("the audit store unreachable before a state-changing action: 500, the handler never runs", async () => {
  jest.mocked(auditStoreReady).mockRejectedValueOnce(new Error("ECONNREFUSED"));
  const handler = jest.fn(async () => ({ status: 202 }));
  const answer = await audited("submission.start", alice, request(), context(), handler);
  expect(answer.status).toBe(500);
  expect(JSON.stringify(answer.jsonBody)).toContain("was not done");
  expect(handler).not.toHaveBeenCalled();
  expect(written).toEqual([]);
});

test("a record that cannot be written after the action was done: 500 saying so (repeat to record)", async () => {
  jest.mocked(writeAuditRecord).mockRejectedValueOnce(new Error("503 ServerBusy"));
  const handler = jest.fn(async () => ({ status: 202, jsonBody: { id: "drv-1" } }));
  const answer = await audited("submission.cancel", alice, request({ id: "drv-1" }), context(), handler);
  expect(handler).toHaveBeenCalledTimes(1);
  expect(answer.status).toBe(500);
  expect(JSON.stringify(answer.jsonBody)).toContain("was done but its audit record could not be written");
});

test("a state-changing action: one record with the caller, its target, the outcome and where it came from", async () => {
  const ctx = context();
  const answer = await audited("submission.cancel", alice, request({ id: "drv-1" }), ctx, async () => ({ status: 202, jsonBody: { id: "drv-1", runtimeStatus: "Terminating" } }));
  expect(answer.status).toBe(202);
  expect(written).toEqual([
    {
      time: expect.any(String),
      principal: { objectId: "oid-alice", name: "alice", clientAppId: "app-1", roles: ["Sign.Submit"] },
      action: "submission.cancel",
      target: { instance: "drv-1" },
      outcome: { result: "ok", reason: "202" },
      requestId: ctx.invocationId,
      clientAddress: "198.51.100.4",
    },
  ]);
});

test("a read is recorded only when it is an owner refusal (404 for someone else's)", async () => {
  await audited("submission.status", alice, request({ id: "drv-2" }), context(), async () => ({ status: 200, jsonBody: { id: "drv-2" } }));
  await audited("submission.status", alice, request({ id: "drv-3" }), context(), async () => ({ status: 404, jsonBody: { error: "no submission with id drv-3" } }));
  expect(written).toEqual([]);
  const ctx = context();
  await audited("submission.status", alice, request({ id: "drv-4" }), ctx, async (_r, c) => {
    noteAudit(c, { refusal: "owner", target: { instance: "drv-4" } });
    return { status: 404, jsonBody: { error: "no submission with id drv-4" } };
  });
  expect(written).toEqual([expect.objectContaining({ action: "submission.status", target: { instance: "drv-4" }, outcome: { result: "refused", refusal: "owner", reason: "404 no submission with id drv-4" } })]);
});

test("a start that re-runs a failed version is a restart; a start with ids a resume", async () => {
  await audited("submission.start", alice, request(), context(), async () => ({ status: 202, jsonBody: { id: "drv-5", restarted: true } }));
  await audited("submission.start", alice, request(), context(), async (_r, c) => {
    noteAudit(c, { action: "submission.resume", target: { package: "drops/p.cab" } });
    return { status: 202, jsonBody: { id: "drv-6" } };
  });
  expect(written.map((r) => [r.action, r.target])).toEqual([
    ["submission.restart", { instance: "drv-5" }],
    ["submission.resume", { instance: "drv-6", package: "drops/p.cab" }],
  ]);
});

test("a handler that throws on a state-changing action leaves a failed record and still throws", async () => {
  await expect(audited("label.create", alice, request({ id: "drv-7" }), context(), async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  expect(written).toEqual([expect.objectContaining({ action: "label.create", outcome: { result: "failed", reason: "500 the request failed" } })]);
});

test("outcomes: 2xx ok, 4xx refused with the error and the fields named, 5xx failed; addresses without ports", () => {
  expect(outcomeOf({ status: 400, jsonBody: { error: "invalid request", fields: [{ field: "package", reason: "x" }] } }, undefined)).toEqual({ result: "refused", reason: "400 invalid request; fields: package" });
  expect(outcomeOf({ status: 503 }, undefined)).toEqual({ result: "failed", reason: "503" });
  expect(outcomeOf({}, undefined)).toEqual({ result: "ok", reason: "200" });
  const at = (value: string) => clientAddressOf({ headers: new Headers({ "x-forwarded-for": value }) });
  expect(at("203.0.113.9:4431")).toBe("203.0.113.9");
  expect(at("[2001:db8::1]:443")).toBe("2001:db8::1");
  // The first hops are whatever the client sent; the front end appends the real one last.
  expect(at("198.51.100.66, 203.0.113.9:4431")).toBe("203.0.113.9");
  // CLIENT-IP and X-Client-IP are the front end's own (overwritten on every request): they win.
  expect(clientAddressOf({ headers: new Headers({ "x-forwarded-for": "198.51.100.66, 203.0.113.9:4431", "client-ip": "203.0.113.7:5000" }) })).toBe("203.0.113.7");
  expect(clientAddressOf({ headers: new Headers({ "x-forwarded-for": "198.51.100.66", "x-client-ip": "203.0.113.8" }) })).toBe("203.0.113.8");
  expect(clientAddressOf({ headers: new Headers() })).toBeUndefined();
});
