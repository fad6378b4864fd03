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
    await expect(client.startNew("greeter", { input: { name: "Ada" }, instanceId: "http-1" })).rejects.toThrow(/409/);
    await engine.waitForIdle(30000);
    const running = await client.getStatus(id, { showHistory: true, showInput: true });
    expect(running.runtimeStatus).toBe("Running");
    expect(running.customStatus).toBe("greeted");
    expect(running.input).toEqual({ name: "Ada" });
    expect(Array.isArray(running.history)).toBe(true);

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
