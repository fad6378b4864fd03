/**
 * Host keys on the local runtime, as strict as the Functions host: the app's function-level API,
 * the Durable webhooks (durabletask_extension system key) and the Event Grid endpoints
 * (eventgrid_extension system key) answer 401 with an empty body without a valid key; the durable
 * client's management URLs carry code=<system key>; the keys live in <dataDir>/keys.json and survive
 * a runtime restart. A second runtime with a stub app (test/e2e/fixtures/stubApp.ts) on the same
 * Azurite and keys shows what the app cannot: the management URLs and webhook delivery.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DIST_DIR } from "../../local/runtime/paths";
import { startRuntimeProcess, type RuntimeProcess } from "../../local/runtime/runtimeProcess";
import { allKeyValues } from "../../local/runtime/keys";
import { startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(120_000);

interface Answer {
  status: number;
  body: string;
}

async function call(url: string, init: { method?: string; key?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers, ...(init.key !== undefined ? { "x-functions-key": init.key } : {}) };
  const response = await fetch(url, { method: init.method ?? "GET", headers, body: init.body });
  return { status: response.status, body: await response.text() };
}

const UNAUTHORIZED: Answer = { status: 401, body: "" };

describe("host keys on the local runtime", () => {
  let stack: TestStack;
  let stub: RuntimeProcess;
  let stubLog: string;

  beforeAll(async () => {
    stack = await startTestStack();
    stubLog = path.join(stack.dataDir, "stub-runtime.log");
    stub = await startRuntimeProcess({
      env: {
        ...stack.env,
        LOCAL_APP_ENTRY: path.join(DIST_DIR, "test", "e2e", "fixtures", "stubApp.js"),
        LOCAL_PORT: "0",
        LOCAL_HUB: "KeysStubHub",
        DROPS_CONTAINER: "stub-drops",
      },
      logFile: stubLog,
      supervise: false,
    });
  });
  afterAll(async () => {
    await stub?.stop();
    await stack?.stop();
  });

  it("keeps the keys in <dataDir>/keys.json (mode 0600) and logs where they are, never what they are", () => {
    expect(stack.keysFile).toBe(path.join(stack.dataDir, "keys.json"));
    expect(fs.statSync(stack.keysFile).mode & 0o777).toBe(0o600);
    const log = fs.readFileSync(stack.runtimeLogFile, "utf8");
    expect(log).toContain(`host keys created in ${stack.keysFile}`);
    expect(fs.readFileSync(stubLog, "utf8")).toContain(`host keys read from ${stack.keysFile}`);
    for (const { value } of allKeyValues(stack.keys)) expect(log).not.toContain(value);
  });

  it("the app's function-level API: 401 without a key or with a wrong one, 2xx with the function or master key", async () => {
    const list = `${stack.apiUrl}/submissions`;
    const countBefore = (await stack.submissions.list()).length;
    expect(await call(list)).toEqual(UNAUTHORIZED);
    expect(await call(list, { key: "not-the-key" })).toEqual(UNAUTHORIZED);
    expect(await call(`${list}?code=not-the-key`)).toEqual(UNAUTHORIZED);
    expect(await call(list, { key: stack.keys.systemKeys.durabletask_extension })).toEqual(UNAUTHORIZED);
    expect(await call(`${list}/some-id`)).toEqual(UNAUTHORIZED);
    expect(await call(`${list}/some-id/cancel`, { method: "POST" })).toEqual(UNAUTHORIZED);
    const post = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ package: "driver-drops/nothing.hlkx" }) };
    expect(await call(list, post)).toEqual(UNAUTHORIZED);

    expect((await call(list, { key: stack.functionKey })).status).toBe(200);
    expect((await call(`${list}?code=${encodeURIComponent(stack.functionKey)}`)).status).toBe(200);
    expect((await call(list, { key: stack.keys.masterKey })).status).toBe(200);
    // With the key the same POST reaches the app (404: no such package), and nothing started before.
    expect((await call(list, { ...post, key: stack.functionKey })).status).toBe(404);
    expect((await stack.submissions.list()).length).toBe(countBefore);
  });

  it("Durable webhooks and RPC routes need the durabletask_extension system key (or the master key)", async () => {
    const webhook = `${stack.baseUrl}/runtime/webhooks/durabletask/instances`;
    expect(await call(webhook)).toEqual(UNAUTHORIZED);
    expect(await call(webhook, { key: stack.functionKey })).toEqual(UNAUTHORIZED);
    expect(await call(webhook, { key: stack.keys.systemKeys.eventgrid_extension })).toEqual(UNAUTHORIZED);
    expect(await call(`${webhook}/x/terminate?reason=r`, { method: "POST" })).toEqual(UNAUTHORIZED);
    expect((await call(webhook, { key: stack.keys.systemKeys.durabletask_extension })).status).toBe(200);
    expect((await call(`${webhook}?code=${stack.keys.systemKeys.durabletask_extension}`)).status).toBe(200);
    expect((await call(webhook, { key: stack.keys.masterKey })).status).toBe(200);
    // The RPC routes share this public port, so they are keyed too (in Azure they are loopback-only).
    expect(await call(`${stack.baseUrl}/durabletask/instances/`)).toEqual(UNAUTHORIZED);
    expect((await call(`${stack.baseUrl}/durabletask/instances/`, { key: stack.keys.systemKeys.durabletask_extension })).status).toBe(200);
  });

  it("the webhook's own 202 for a new instance links its management URLs with the system key", async () => {
    const systemKey = stack.keys.systemKeys.durabletask_extension;
    // As in Azure, only a registered orchestrator starts (400 otherwise); recordRejectedDrop is a harmless one.
    const unknown = await call(`${stack.baseUrl}/runtime/webhooks/durabletask/orchestrators/no-such-orchestrator?code=${systemKey}`, { method: "POST" });
    expect(unknown.status).toBe(400);
    const started = await call(`${stack.baseUrl}/runtime/webhooks/durabletask/orchestrators/recordRejectedDrop/keys-test-start?code=${systemKey}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ package: { container: "driver-drops", blobName: "keys-test.zip" }, reason: "test" }),
    });
    expect(started.status).toBe(202);
    const links = JSON.parse(started.body) as Record<string, string>;
    for (const name of ["statusQueryGetUri", "terminatePostUri", "purgeHistoryDeleteUri", "restartPostUri"]) {
      expect(new URL(links[name]).searchParams.get("code")).toBe(systemKey);
    }
    await call(links.terminatePostUri.replace("{text}", "test"), { method: "POST" });
  });

  it("management URLs from the durable client carry code=<durabletask_extension key>, which opens them", async () => {
    const answer = await call(`${stub.baseUrl}/api/management/no-such-instance`, { key: stack.functionKey });
    expect(answer.status).toBe(200);
    const payload = JSON.parse(answer.body) as Record<string, string>;
    const urls = Object.entries(payload).filter(([name]) => name !== "id");
    expect(urls.map(([name]) => name)).toEqual(expect.arrayContaining(["statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"]));
    for (const [, url] of urls) expect(new URL(url).searchParams.get("code")).toBe(stack.keys.systemKeys.durabletask_extension);
    // The key in the URL opens the webhook (404: no such instance); the same URL without it does not.
    expect((await call(payload.statusQueryGetUri)).status).toBe(404);
    const withoutKey = new URL(payload.statusQueryGetUri);
    withoutKey.searchParams.delete("code");
    expect(await call(withoutKey.href)).toEqual(UNAUTHORIZED);
  });

  it("Event Grid endpoints need the eventgrid_extension system key; the webhook answers the handshake and delivers notifications", async () => {
    const egKey = stack.keys.systemKeys.eventgrid_extension;
    const json = { "content-type": "application/json" };
    expect(await call(`${stack.baseUrl}/_local/eventgrid`, { method: "POST", headers: json, body: "[]" })).toEqual(UNAUTHORIZED);
    expect(await call(`${stack.baseUrl}/_local/eventgrid`, { method: "POST", headers: json, body: "[]", key: stack.keys.systemKeys.durabletask_extension })).toEqual(UNAUTHORIZED);
    expect(await call(`${stack.baseUrl}/_local/eventgrid/deliveries`)).toEqual(UNAUTHORIZED);
    expect((await call(`${stack.baseUrl}/_local/eventgrid/deliveries`, { key: egKey })).status).toBe(200);
    expect((await call(`${stack.baseUrl}/_local/health`)).status).toBe(200);

    const webhook = (functionName: string, code?: string) =>
      `${stack.baseUrl}/runtime/webhooks/eventgrid?functionName=${functionName}${code ? `&code=${encodeURIComponent(code)}` : ""}`;
    const validation = JSON.stringify([
      {
        id: "v1",
        topic: "/subscriptions/x",
        subject: "",
        eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
        eventTime: new Date().toISOString(),
        data: { validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" },
        dataVersion: "2",
      },
    ]);
    const handshake = { method: "POST", headers: { ...json, "aeg-event-type": "SubscriptionValidation" }, body: validation };
    expect(await call(webhook("packageDropped"), handshake)).toEqual(UNAUTHORIZED);
    expect(await call(webhook("packageDropped", stack.functionKey), handshake)).toEqual(UNAUTHORIZED);
    const validated = await call(webhook("packageDropped", egKey), handshake);
    expect(validated.status).toBe(200);
    expect(JSON.parse(validated.body)).toEqual({ validationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" });
    expect((await call(webhook("noSuchFunction", egKey), handshake)).status).toBe(404);
    expect((await call(webhook("packageDropped", egKey), { method: "POST", headers: json, body: validation })).status).toBe(400);

    // A notification reaches the named function (the stub's onEvent logs the subject).
    const subject = `/blobServices/default/containers/c/blobs/webhook-${Date.now()}.hlkx`;
    const event = { id: "n1", topic: "/t", subject, eventType: "Microsoft.Storage.BlobCreated", eventTime: new Date().toISOString(), data: {}, dataVersion: "" };
    const notify = { method: "POST", headers: { ...json, "aeg-event-type": "Notification" }, body: JSON.stringify([event]) };
    expect(await call(`${stub.baseUrl}/runtime/webhooks/eventgrid?functionName=onEvent`, notify)).toEqual(UNAUTHORIZED);
    expect(fs.readFileSync(stubLog, "utf8")).not.toContain(subject);
    expect((await call(`${stub.baseUrl}/runtime/webhooks/eventgrid?functionName=onEvent&code=${egKey}`, notify)).status).toBe(202);
    // The log line travels through the runtime's stderr into the log file: give it a moment.
    for (let i = 0; i < 40 && !fs.readFileSync(stubLog, "utf8").includes(subject); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.readFileSync(stubLog, "utf8")).toContain(subject);
  });

  it("keeps the same keys across a runtime restart", async () => {
    const before = fs.readFileSync(stack.keysFile, "utf8");
    const pid = stack.runtime.pid;
    await stack.runtime.restart();
    expect(stack.runtime.pid).not.toBe(pid);
    expect(fs.readFileSync(stack.keysFile, "utf8")).toBe(before);
    expect(fs.readFileSync(stack.runtimeLogFile, "utf8")).toContain(`host keys read from ${stack.keysFile}`);
    expect((await call(`${stack.apiUrl}/submissions`, { key: stack.functionKey })).status).toBe(200);
    expect(await call(`${stack.apiUrl}/submissions`)).toEqual(UNAUTHORIZED);
  });
});
