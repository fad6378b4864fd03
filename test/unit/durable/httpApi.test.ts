jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as http from "node:http";
import { AddressInfo } from "node:net";
import { HttpRequest, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient, OrchestrationContext } from "durable-functions";
import { durableClientBindingData } from "../../../local/durable/clientBinding";
import { DurableEngine } from "../../../local/durable/engine";
import { createDurableHttpHandler } from "../../../local/durable/httpApi";
import { EngineFixture, engineFixture } from "./harness";

df.app.activity("greet", { handler: async (name: unknown) => `Hello ${name}` });
df.app.orchestration("instant", function* () {
  return "done";
});
df.app.orchestration("sleepsADay", function* (ctx: OrchestrationContext) {
  yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 24 * 3600_000));
  return "rested";
});
df.app.orchestration("breaks", function* () {
  throw new Error("broken on purpose");
});
df.app.orchestration("greeter", function* (ctx: OrchestrationContext) {
  const greeting: string = yield ctx.df.callActivity("greet", ctx.df.getInput<{ name: string }>().name);
  ctx.df.setCustomStatus("greeted");
  const reply: string = yield ctx.df.waitForExternalEvent("reply");
  return `${greeting} / ${reply}`;
});

describe("Durable HTTP API with the real DurableClient", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;
  let server: http.Server;
  let baseUrl: string;
  let client: DurableClient;
  const hub = "HttpHub";

  beforeAll(async () => {
    process.env.NO_PROXY = "127.0.0.1,localhost";
    fixture = await engineFixture();
    engine = await fixture.create({ hubName: hub });
    const handle = createDurableHttpHandler(engine, { taskHub: hub });
    server = http.createServer((req, res) => {
      handle(req, res).then((handled) => {
        if (!handled) { res.writeHead(404); res.end(); }
      }, () => { res.writeHead(500); res.end(); });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clientInput = df.input.durableClient();
    const context = new InvocationContext({
      functionName: "client", logHandler: () => undefined,
      options: { trigger: { type: "httpTrigger", name: "req" }, extraInputs: [clientInput], extraOutputs: [] },
    });
    context.extraInputs.set(clientInput, durableClientBindingData(baseUrl, hub));
    client = df.getClient(context);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fixture.dispose();
  });

  test("startNew, getStatus, raiseEvent and getStatusBy over the RPC routes", async () => {
    const id = await client.startNew("greeter", { input: { name: "Ada" }, instanceId: "http-1" });
    expect(id).toBe("http-1");
    // Azure (overridableExistingInstanceStates=NonRunningStates): OrchestrationAlreadyExistsException → HandleRequestAsync's 500.
    await expect(client.startNew("greeter", { input: { name: "Ada" }, instanceId: "http-1" })).rejects.toThrow(
      /status code: 500\. Details: \{"Message":"Something went wrong while processing your request"\}/);
    await engine.waitForIdle(30000);
    const running = await client.getStatus(id, { showHistory: true, showInput: true });
    expect(running.runtimeStatus).toBe("Running");
    expect(running.customStatus).toBe("greeted");
    expect(running.input).toEqual({ name: "Ada" });
    // The extension answers with "historyEvents"; durable-functions 3.5.0 reads "history", so it stays undefined (as in Azure).
    expect(running.history).toBeUndefined();

    await client.raiseEvent(id, "reply", "hi back");
    await engine.waitForIdle(30000);
    const done = await client.getStatus(id);
    expect(done.runtimeStatus).toBe(df.OrchestrationRuntimeStatus.Completed);
    expect(done.output).toBe("Hello Ada / hi back");

    const completed = await client.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] });
    expect(completed.map((s) => s.instanceId)).toContain("http-1");
    const runningOnly = await client.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Running] });
    expect(runningOnly.map((s) => s.instanceId)).not.toContain("http-1");
  });

  test("getStatus of an unknown id throws the 404 error; raiseEvent rejects", async () => {
    await expect(client.getStatus("nope")).rejects.toThrow(/404/);
    await expect(client.raiseEvent("nope", "reply", 1)).rejects.toThrow(/No instance with ID 'nope'/);
  });

  test("terminate and purgeInstanceHistory", async () => {
    const id = await client.startNew("greeter", { input: { name: "Bob" } });
    await engine.waitForIdle(30000);
    await client.terminate(id, "no longer needed");
    await engine.waitForIdle(30000);
    const status = await client.getStatus(id);
    expect(status.runtimeStatus).toBe("Terminated");
    expect(status.output).toBe("no longer needed");
    expect((await client.purgeInstanceHistory(id)).instancesDeleted).toBe(1);
    expect((await client.purgeInstanceHistory(id)).instancesDeleted).toBe(0);
    await expect(client.getStatus(id)).rejects.toThrow(/404/);
  });

  test("createCheckStatusResponse URLs answer: 202 while running, 200 when done, raiseEvent via webhook", async () => {
    const id = await client.startNew("greeter", { input: { name: "Cy" } });
    await engine.waitForIdle(30000);
    const request = new HttpRequest({ method: "POST", url: `${baseUrl}/api/start` });
    const response = client.createCheckStatusResponse(request, id);
    expect(response.status).toBe(202);
    const links = (await response.json()) as Record<string, string>;
    expect(links.statusQueryGetUri.startsWith(`${baseUrl}/runtime/webhooks/durabletask/instances/${id}`)).toBe(true);

    const whileRunning = await fetch(links.statusQueryGetUri);
    expect(whileRunning.status).toBe(202);
    expect(((await whileRunning.json()) as { runtimeStatus: string }).runtimeStatus).toBe("Running");

    const raised = await fetch(links.sendEventPostUri.replace("{eventName}", "reply"), {
      method: "POST", body: JSON.stringify("via webhook"), headers: { "Content-Type": "application/json" },
    });
    expect(raised.status).toBe(202);
    await engine.waitForIdle(30000);
    const finished = await fetch(links.statusQueryGetUri);
    expect(finished.status).toBe(200);
    expect(((await finished.json()) as { output: string }).output).toBe("Hello Cy / via webhook");

    const purged = await fetch(links.purgeHistoryDeleteUri, { method: "DELETE" });
    expect(purged.status).toBe(200);
    expect((await fetch(links.statusQueryGetUri)).status).toBe(404);
  });
});

describe("Durable HTTP API answers like the extension's HttpApiHandler", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;
  let server: http.Server;
  let baseUrl: string;
  let webhooks: string;
  let client: DurableClient;
  const hub = "HttpParityHub";
  const query = `taskHub=${hub}&connection=Storage`;

  beforeAll(async () => {
    process.env.NO_PROXY = "127.0.0.1,localhost";
    fixture = await engineFixture();
    engine = await fixture.create({ hubName: hub });
    const handle = createDurableHttpHandler(engine, { taskHub: hub });
    server = http.createServer((req, res) => {
      handle(req, res).then((handled) => {
        if (!handled) { res.writeHead(404); res.end(); }
      }, () => { res.writeHead(500); res.end(); });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    webhooks = `${baseUrl}/runtime/webhooks/durabletask`;
    const clientInput = df.input.durableClient();
    const context = new InvocationContext({
      functionName: "client", logHandler: () => undefined,
      options: { trigger: { type: "httpTrigger", name: "req" }, extraInputs: [clientInput], extraOutputs: [] },
    });
    context.extraInputs.set(clientInput, durableClientBindingData(baseUrl, hub));
    client = df.getClient(context);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fixture.dispose();
  });

  const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });

  test("start: 202 with the extension's link set, Location and Retry-After 10; a running status: 202, Location, Retry-After 5", async () => {
    const started = await fetch(`${webhooks}/orchestrators/greeter/hp-start?${query}`, json({ name: "Ed" }));
    expect(started.status).toBe(202);
    const links = (await started.json()) as Record<string, string>;
    expect(Object.keys(links)).toEqual([
      "id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri",
    ]);
    expect(links.restartPostUri).toBe(`${webhooks}/instances/hp-start/restart?${query}`);
    expect(started.headers.get("location")).toBe(links.statusQueryGetUri);
    expect(started.headers.get("retry-after")).toBe("10");
    await engine.waitForIdle(30000);

    const status = await fetch(links.statusQueryGetUri);
    expect(status.status).toBe(202);
    expect(status.headers.get("retry-after")).toBe("5");
    expect(status.headers.get("location")).toBe(links.statusQueryGetUri);
    const body = (await status.json()) as Record<string, unknown>;
    expect(body.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/); // ToString("s") + "Z"
    expect(body.lastUpdatedTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body).not.toHaveProperty("historyEvents");

    const binding = durableClientBindingData(baseUrl, hub) as { managementUrls: Record<string, string> };
    expect(binding.managementUrls.restartPostUri).toBe(`${webhooks}/instances/INSTANCEID/restart?${query}`);
    const restarted = await fetch(links.restartPostUri, { method: "POST" });
    expect(restarted.status).toBe(202);
    const restartedId = ((await restarted.json()) as { id: string }).id;
    expect(restartedId).toMatch(/^[0-9a-f]{32}$/);
    expect((await engine.getStatus(restartedId))?.input).toEqual({ name: "Ed" });

    const bad = await fetch(`${webhooks}/orchestrators/greeter?${query}`, { method: "POST", body: "{nope", headers: { "Content-Type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ Message: "Invalid JSON content" });
  });

  test("raiseEvent: JSON only (400 otherwise), 404 for unknown, 410 once finished", async () => {
    const id = await client.startNew("greeter", { input: { name: "Flo" }, instanceId: "hp-raise" });
    await engine.waitForIdle(30000);
    const url = `${webhooks}/instances/${id}/raiseEvent/reply?${query}`;
    const asText = await fetch(url, { method: "POST", body: "\"hi\"", headers: { "Content-Type": "text/plain" } });
    expect(asText.status).toBe(400);
    expect(await asText.json()).toEqual({ Message: "Only application/json request content is supported" });
    const noType = await fetch(url, { method: "POST", body: new Blob(["\"hi\""]) });
    expect(noType.status).toBe(400);
    const invalid = await fetch(url, { method: "POST", body: "{", headers: { "Content-Type": "application/json" } });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({ Message: "Invalid JSON content" });
    const unknown = await fetch(`${webhooks}/instances/nope/raiseEvent/reply?${query}`, json("x"));
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("");
    expect((await engine.getStatus(id))?.runtimeStatus).toBe("Running"); // none of the refused events arrived

    const ok = await fetch(url, { method: "POST", body: "\"hi\"", headers: { "Content-Type": "Application/JSON; charset=utf-8" } });
    expect(ok.status).toBe(202);
    await engine.waitForIdle(30000);
    expect((await engine.getStatus(id))?.output).toBe("Hello Flo / hi");
    expect((await fetch(url, json("again"))).status).toBe(410);
  });

  test("a Failed instance: 200 by default, 500 with returnInternalServerErrorOnFailure=true", async () => {
    const id = await client.startNew("breaks", { instanceId: "hp-broken" });
    await engine.waitForIdle(30000);
    const plain = await fetch(`${webhooks}/instances/${id}?${query}`);
    expect(plain.status).toBe(200);
    expect(((await plain.json()) as { output: string }).output).toBe("Orchestrator function 'breaks' failed: broken on purpose");
    const strict = await fetch(`${webhooks}/instances/${id}?${query}&returnInternalServerErrorOnFailure=true`);
    expect(strict.status).toBe(500);
    expect(((await strict.json()) as { runtimeStatus: string }).runtimeStatus).toBe("Failed");
    expect(strict.headers.get("retry-after")).toBeNull();
  });

  test("showHistory returns historyEvents in the extension's shape; showHistoryOutput adds parsed results", async () => {
    const id = await client.startNew("greeter", { input: { name: "Gus" }, instanceId: "hp-history" });
    await engine.waitForIdle(30000);
    await client.raiseEvent(id, "reply", "yo");
    await engine.waitForIdle(30000);
    const plain = (await (await fetch(`${webhooks}/instances/${id}?${query}&showHistory=true`)).json()) as { historyEvents: Record<string, unknown>[] };
    const events = plain.historyEvents;
    expect(events.map((e) => e.EventType)).toEqual(["ExecutionStarted", "TaskCompleted", "EventRaised", "ExecutionCompleted"]);
    expect(events[0]).toMatchObject({ FunctionName: "greeter", Input: JSON.stringify({ name: "Gus" }) });
    // The extension keeps no activity input in history (the conformance harness shows Input: null on 3.19.0;
    // this expected the input before).
    expect(events[1]).toMatchObject({ FunctionName: "greet", Input: null });
    expect(events[1]).toHaveProperty("ScheduledTime");
    expect(events[1]).not.toHaveProperty("Result");
    expect(events[0]).not.toHaveProperty("Name"); // renamed to FunctionName
    expect(events[2]).toMatchObject({ Name: "reply", Input: JSON.stringify("yo") });
    expect(events[3]).toMatchObject({ OrchestrationStatus: "Completed" });
    expect(events[3]).not.toHaveProperty("Result");
    for (const event of events) {
      for (const hidden of ["EventId", "IsPlayed", "TaskScheduledId", "TimerId"]) expect(event).not.toHaveProperty(hidden);
      expect(String(event.Timestamp)).not.toMatch(/\.\d*0Z$/); // Newtonsoft drops trailing zeros of the fraction
    }
    const withOutput = (await (await fetch(`${webhooks}/instances/${id}?${query}&showHistory=true&showHistoryOutput=true&showInput=false`)).json()) as {
      input: unknown; historyEvents: Record<string, unknown>[];
    };
    expect(withOutput.input).toBeNull();
    expect(withOutput.historyEvents[1]).toMatchObject({ EventType: "TaskCompleted", Result: "Hello Gus" });
    expect(withOutput.historyEvents[1]).not.toHaveProperty("Input");
    expect(withOutput.historyEvents[3]).toMatchObject({ Result: "Hello Gus / yo" });

    const pending = await client.startNew("greeter", { input: { name: "Hal" }, instanceId: "hp-history-2" });
    await engine.waitForIdle(30000);
    const running = (await (await fetch(`${webhooks}/instances/${pending}?${query}&showHistory=true`)).json()) as { historyEvents: Record<string, unknown>[] };
    expect(running.historyEvents.map((e) => e.EventType)).toEqual(["ExecutionStarted", "TaskCompleted"]);
  });

  test("list: top, instanceIdPrefix and the x-ms-continuation-token header; durable-functions follows the pages", async () => {
    await Promise.all(Array.from({ length: 5 }, (_, i) => client.startNew("instant", { instanceId: `hp-page-${i}` })));
    await engine.waitForIdle(30000);
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const response: Response = await fetch(`${webhooks}/instances/?${query}&instanceIdPrefix=hp-page-&top=2`, {
        headers: token ? { "x-ms-continuation-token": token } : {},
      });
      expect(response.status).toBe(200);
      const page = (await response.json()) as Array<{ instanceId: string; createdTime: string }>;
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page.map((s) => s.instanceId));
      token = response.headers.get("x-ms-continuation-token");
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(["hp-page-0", "hp-page-1", "hp-page-2", "hp-page-3", "hp-page-4"]);

    // Without top the extension pages by 100; getStatusAll must follow the token to see them all.
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.startNew("instant", { instanceId: `hp-bulk-${String(i).padStart(3, "0")}` })));
    await engine.waitForIdle(60000);
    const firstPage = await fetch(`${webhooks}/instances?${query}`);
    expect(((await firstPage.json()) as unknown[]).length).toBe(100);
    expect(firstPage.headers.get("x-ms-continuation-token")).toBeTruthy();
    const all = await client.getStatusAll();
    expect(all.length).toBe((await engine.list()).length);
    expect(all.length).toBeGreaterThan(100);
  });

  test("purge: by filter needs createdTimeFrom (400), 404 when nothing matched; by id 404 unknown, running instances too", async () => {
    const missing = await fetch(`${webhooks}/instances?${query}`, { method: "DELETE" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toBe("Please provide value for 'createdTimeFrom' parameter.");
    const future = new Date(engine.now().getTime() + 3600_000).toISOString();
    const none = await fetch(`${webhooks}/instances?${query}&createdTimeFrom=${future}`, { method: "DELETE" });
    expect(none.status).toBe(404);

    // The virtual clock moves a day ahead of the wall clock; "createdTimeTo defaults to now" must mean the engine's now.
    await client.startNew("sleepsADay", { instanceId: "hp-sleeper" });
    await engine.waitForIdle(30000);
    await client.startNew("instant", { instanceId: "hp-after-sleep" });
    await engine.waitForIdle(30000);
    expect(Date.parse((await engine.getStatus("hp-after-sleep"))?.createdTime as string)).toBeGreaterThan(Date.now() + 3600_000);
    const before = (await engine.list({ runtimeStatus: ["Completed"], instanceIdPrefix: "hp-page-" })).length;
    const purged = await fetch(`${webhooks}/instances?${query}&createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Completed`, { method: "DELETE" });
    expect(purged.status).toBe(200);
    expect(((await purged.json()) as { instancesDeleted: number }).instancesDeleted).toBeGreaterThanOrEqual(before);
    expect(await engine.list({ runtimeStatus: ["Completed"] })).toEqual([]);

    const unknown = await fetch(`${webhooks}/instances/never-existed?${query}`, { method: "DELETE" });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("");
    const runningId = await client.startNew("greeter", { input: { name: "Ivy" }, instanceId: "hp-purge-running" });
    await engine.waitForIdle(30000);
    const running = await fetch(`${webhooks}/instances/${runningId}?${query}`, { method: "DELETE" });
    expect(running.status).toBe(200);
    expect(await running.json()).toEqual({ instancesDeleted: 1 });
    expect(await engine.getStatus(runningId)).toBeUndefined();
  });

  test("terminate: 404 unknown, 202 running, 410 once terminal; the reason is the output", async () => {
    expect((await fetch(`${webhooks}/instances/nope/terminate?${query}`, { method: "POST" })).status).toBe(404);
    const id = await client.startNew("greeter", { input: { name: "Jo" }, instanceId: "hp-term" });
    await engine.waitForIdle(30000);
    expect((await fetch(`${webhooks}/instances/${id}/terminate?reason=enough&${query}`, { method: "POST" })).status).toBe(202);
    await engine.waitForIdle(30000);
    expect(await engine.getStatus(id)).toMatchObject({ runtimeStatus: "Terminated", output: "enough" });
    expect((await fetch(`${webhooks}/instances/${id}/terminate?${query}`, { method: "POST" })).status).toBe(410);
  });
});
