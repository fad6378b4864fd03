/**
 * The retention handler and the paged listing against the local runtime's real durable engine (over
 * Azurite) and its Durable HTTP API, through the real durable-functions client binding data; and the
 * local runtime's timer-trigger support (NCRONTAB subset, firing on the runtime's clock).
 */
jest.mock("@azure/functions-core", () => require("../../../local/functionsHost/coreStandIn"), { virtual: true });

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { HttpRequest, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { durableClientBindingData } from "../../../local/durable/clientBinding";
import type { DurableEngine } from "../../../local/durable/engine";
import { createDurableHttpHandler } from "../../../local/durable/httpApi";
import { getRegisteredFunctions, triggerOf } from "../../../local/functionsHost/coreStandIn";
import { nextOccurrence, parseNcrontab, registeredTimers, TimerTriggers } from "../../../local/runtime/timerTriggers";
import { resetConfigCache } from "../../../src/config";
import { purgeFinishedSubmissions } from "../../../src/functions/retention";
import { handleListSubmissions } from "../../../src/functions/submissionStatus";
import { decodeContinuationToken } from "../../../src/functions/validation/listQuery";
import "../../../src/functions/retention";
import { type EngineFixture, engineFixture } from "../durable/harness";
import { attachCaller, KEY_HOLDER } from "../../../src/identity/caller";
import { BlobServiceClient } from "@azure/storage-blob";
import { getConfig } from "../../../src/config";
import { writeAuditRecord } from "../../../src/audit/store";

// Stand-ins for submissions, registered under the real orchestrator name so the list keeps them.
df.app.orchestration("submitDriver", function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<{ blobName: string; outcome: "complete" | "fail" | "wait" }>();
  ctx.df.setCustomStatus({ stage: "queued", package: { container: "driver-drops", blobName: input.blobName }, updatedAt: "" });
  if (input.outcome === "fail") throw new Error("Driver submission failed at stage creatingProduct: 400");
  if (input.outcome === "wait") yield ctx.df.waitForExternalEvent("never");
  return { outcome: "succeeded" };
});
df.app.orchestration("someOtherOrchestration", function* () {
  return 1;
});

describe("against the local runtime's durable engine", () => {
  let fixture: EngineFixture;
  let engine: DurableEngine;
  let server: http.Server;
  let baseUrl = "";
  const hub = "RetentionHub";

  /** An InvocationContext with the durableClient binding data the runtime gives functions. */
  function contextFor(functionName: string): InvocationContext {
    const registered = getRegisteredFunctions().get(functionName)!;
    const clientInput = Object.values(registered.bindings).find((binding) => binding.type === "durableClient")!;
    const context = new InvocationContext({
      functionName,
      logHandler: () => undefined,
      options: { trigger: triggerOf(registered) as never, extraInputs: [clientInput as never], extraOutputs: [] },
    });
    context.extraInputs.set(clientInput as never, durableClientBindingData(baseUrl, hub));
    // Called past the gate, as under AUTH_MODE=keys: the key holder (the gate and owners: callerGate.test.ts, owners e2e).
    attachCaller(context, KEY_HOLDER);
    return context;
  }

  beforeAll(async () => {
    process.env.NO_PROXY = "127.0.0.1,localhost";
    fixture = await engineFixture();
    // This Azurite: retention writes purge records to the state container before it purges (issue 30).
    Object.assign(process.env, { AzureWebJobsStorage: fixture.azurite.connectionString, HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s", RETENTION_DAYS: "90" });
    resetConfigCache();
    engine = await fixture.create({ hubName: hub });
    const handle = createDurableHttpHandler(engine, { taskHub: hub });
    server = http.createServer((req, res) => {
      handle(req, res).then(
        (handled) => {
          if (!handled) {
            res.writeHead(404);
            res.end();
          }
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const outcomes = ["complete", "fail", "wait", "complete", "wait", "complete", "fail"] as const;
    for (const [i, outcome] of outcomes.entries()) {
      await engine.startNew("submitDriver", { blobName: `${i % 2 === 0 ? "team-a" : "team-b"}/p${i}.hlkx`, outcome }, `drv-${i}`);
    }
    await engine.startNew("someOtherOrchestration", null, "other-1");
    await engine.startNew("submitDriver", { blobName: "team-a/cancelled.hlkx", outcome: "wait" }, "drv-t");
    await engine.waitForIdle(30_000);
    await engine.terminate("drv-t", "canceled by request");
    await engine.waitForIdle(30_000);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fixture?.dispose();
  });

  test("GET /api/submissions pages through the engine with top and continuation tokens", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = `?top=2${token ? `&continuationToken=${encodeURIComponent(token)}` : ""}`;
      const response = await handleListSubmissions(new HttpRequest({ method: "GET", url: `http://127.0.0.1/api/submissions${query}` }), contextFor("listSubmissions"));
      expect(response.status).toBe(200);
      const body = response.jsonBody as { items: Array<{ id: string }>; continuationToken?: string };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((item) => item.id));
      token = body.continuationToken;
      pages++;
    } while (token && pages < 20);
    expect(pages).toBe(5); // 9 instances in the hub, 2 per page
    expect(seen.sort()).toEqual(["drv-0", "drv-1", "drv-2", "drv-3", "drv-4", "drv-5", "drv-6", "drv-t"]);

    const filtered = await handleListSubmissions(
      new HttpRequest({ method: "GET", url: "http://127.0.0.1/api/submissions?status=Completed&package=driver-drops/team-b/" }),
      contextFor("listSubmissions"),
    );
    expect((filtered.jsonBody as { items: Array<{ id: string }> }).items.map((item) => item.id).sort()).toEqual(["drv-3", "drv-5"]);
  });

  test("tampered continuation tokens get 400 naming continuationToken, never a 500 or the first page again", async () => {
    const list = (token: string) =>
      handleListSubmissions(
        new HttpRequest({ method: "GET", url: `http://127.0.0.1/api/submissions?top=2&continuationToken=${encodeURIComponent(token)}` }),
        contextFor("listSubmissions"),
      );
    const first = await list("");
    const real = (first.jsonBody as { continuationToken: string }).continuationToken;
    const realInner = decodeContinuationToken(real)!;
    const wrap = (inner: unknown) => Buffer.from(JSON.stringify({ v: 1, t: inner }), "utf8").toString("base64url");
    const tampered: Record<string, string> = {
      "CR/LF in the inner value (would reach the x-ms-continuation-token header)": wrap(`${realInner}\r\nx-injected: 1`),
      "garbage inner value": wrap("garbage"),
      "inner value that is base64 of no JSON": wrap(Buffer.from("not json").toString("base64")),
      "inner value that is base64 of an empty object": wrap(Buffer.from("{}").toString("base64")),
      "inner value that is base64 of an array": wrap(Buffer.from('["a"]').toString("base64")),
      "inner value in base64url instead of base64": wrap(Buffer.from(JSON.stringify({ after: "drv-1?>" })).toString("base64url")),
      "inner value cut short": wrap(realInner.slice(0, -3)),
      "outer token cut short": real.slice(0, -5),
    };
    const answers = Object.fromEntries(
      await Promise.all(
        Object.entries(tampered).map(async ([label, token]) => {
          const response = await list(token).catch((error: unknown) => ({ status: 500, jsonBody: String(error) }));
          return [label, { status: response.status, body: response.jsonBody }] as const;
        }),
      ),
    );
    const refused = { status: 400, body: { error: "invalid request", fields: [{ field: "continuationToken", reason: "is not a token this API returned" }] } };
    expect(answers).toEqual(Object.fromEntries(Object.keys(tampered).map((label) => [label, refused])));
    // The token the API handed out still leads to the second page.
    const second = await list(real);
    expect(second.status).toBe(200);
    expect((second.jsonBody as { items: Array<{ id: string }> }).items.map((item) => item.id)).not.toEqual(
      (first.jsonBody as { items: Array<{ id: string }> }).items.map((item) => item.id),
    );
  });

  test("retention purges only finished instances created more than RETENTION_DAYS ago", async () => {
    // Issue 33: audit records from before (one of a submission it purges) must all outlive the purge, byte for byte.
    const service = BlobServiceClient.fromConnectionString(fixture.azurite.connectionString);
    const auditContainer = service.getContainerClient(getConfig().settings.AUDIT_CONTAINER);
    const seeded = new Map<string, string>();
    for (const instance of ["drv-0", "drv-2", "drv-t"]) {
      const name = await writeAuditRecord(service, getConfig(), {
        time: new Date().toISOString(),
        principal: { objectId: "seed", roles: [] },
        action: "submission.start",
        target: { instance },
        outcome: { result: "ok" },
      });
      seeded.set(name, (await auditContainer.getBlobClient(name).downloadToBuffer()).toString("utf8"));
    }
    const context = contextFor("purgeFinishedSubmissions");
    const tooEarly = await purgeFinishedSubmissions(context, new Date(engine.now().getTime() + 89 * 24 * 3600 * 1000));
    expect(tooEarly).toMatchObject({ instancesDeleted: 0, recordsWritten: 0 });
    expect((await engine.list()).length).toBe(9);

    const later = await purgeFinishedSubmissions(context, new Date(engine.now().getTime() + 91 * 24 * 3600 * 1000));
    // Completed ×3, Failed ×2, Terminated ×1 (drv-t) and the other orchestration's completed instance.
    expect(later.instancesDeleted).toBe(7);
    // A purge record for each submission among them (drv-0, 1, 3, 5, 6, t); none for the other orchestration.
    expect(later.recordsWritten).toBe(6);
    const left = (await engine.list()).map((status) => `${status.instanceId}:${status.runtimeStatus}`).sort();
    expect(left).toEqual(["drv-2:Running", "drv-4:Running"]);

    const after = new Map<string, string>();
    for await (const item of auditContainer.listBlobsFlat()) after.set(item.name, (await auditContainer.getBlobClient(item.name).downloadToBuffer()).toString("utf8"));
    for (const [name, text] of seeded) expect(after.get(name)).toBe(text);
    // Each purge run left one record of its own (principal "retention"), and nothing else changed.
    const purges = [...after.entries()].filter(([name]) => !seeded.has(name)).map(([, text]) => JSON.parse(text));
    expect(purges).toHaveLength(2);
    for (const record of purges) expect(record).toMatchObject({ action: "purge", principal: { objectId: "retention" }, outcome: { result: "ok" } });
    expect(purges.map((r) => r.outcome.reason).sort()).toEqual([expect.stringContaining("purged the history of 0 "), expect.stringContaining("purged the history of 7 ")]);
  });
});

describe("local runtime timer triggers", () => {
  test("the retention timer is registered with its default schedule", () => {
    expect(registeredTimers(["purgeFinishedSubmissions", "listSubmissions"])).toEqual([{ name: "purgeFinishedSubmissions", schedule: "0 30 3 * * *" }]);
  });

  test.each([
    ["0 30 3 * * *", "2025-01-01T10:00:00Z", "2025-01-02T03:30:00.000Z"],
    ["0 30 3 * * *", "2025-01-01T03:29:59Z", "2025-01-01T03:30:00.000Z"],
    ["0 30 3 * * *", "2025-01-01T03:30:00Z", "2025-01-02T03:30:00.000Z"],
    ["*/15 * * * * *", "2025-01-01T00:00:07Z", "2025-01-01T00:00:15.000Z"],
    ["0 0 */6 * * *", "2025-01-01T07:00:00Z", "2025-01-01T12:00:00.000Z"],
    ["0 0 9 * * 1-5", "2025-01-03T10:00:00Z", "2025-01-06T09:00:00.000Z"], // Friday → Monday
    ["0 0 0 1 1,7 *", "2025-02-01T00:00:00Z", "2025-07-01T00:00:00.000Z"],
    ["0 0 12 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T12:00:00.000Z"],
  ])("%s after %s is %s", (expression, after, expected) => {
    expect(nextOccurrence(parseNcrontab(expression), new Date(after)).toISOString()).toBe(expected);
  });

  test.each(["0 30 3 * *", "0 30 3 * * MON", "0 60 3 * * *", "0 30 3 L * *", "%RETENTION_SCHEDULE%", "0 30 3 * * 7", "0 5-1 * * * *"])(
    "%s is refused",
    (expression) => {
      expect(() => parseNcrontab(expression)).toThrow(/NCRONTAB/);
    },
  );

  test("fires when the runtime's clock passes the occurrence, once, then schedules the next", async () => {
    let now = new Date("2025-01-01T03:29:00Z");
    const invoked: Array<{ name: string; info: { scheduleStatus: { next: string } } }> = [];
    const timers = new TimerTriggers({
      timers: [{ name: "purgeFinishedSubmissions", schedule: "0 30 3 * * *" }],
      now: () => now,
      invoke: async (name, info) => {
        invoked.push({ name, info: info as never });
      },
      log: () => undefined,
    });
    expect(timers.check()).toEqual([]);
    now = new Date("2025-01-01T03:30:00Z");
    expect(timers.check()).toEqual(["purgeFinishedSubmissions"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(timers.check()).toEqual([]);
    now = new Date("2025-01-03T00:00:00Z"); // a virtual jump over the next occurrence fires once
    expect(timers.check()).toEqual(["purgeFinishedSubmissions"]);
    expect(invoked.map((call) => call.info.scheduleStatus.next)).toEqual(["2025-01-02T03:30:00.000Z", "2025-01-03T03:30:00.000Z"]);
  });
});
