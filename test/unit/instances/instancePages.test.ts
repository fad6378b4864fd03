/**
 * The paged instance query against an HTTP server on 127.0.0.1 that answers like the Durable
 * extension's instance query (top, x-ms-continuation-token): one request per page, never more.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { httpInstancePager, instanceQueryUrl } from "../../../src/instances/instancePages";

describe("httpInstancePager", () => {
  let server: http.Server;
  let base = "";
  const requests: Array<{ url: string; token?: string; authorization?: string }> = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const token = req.headers["x-ms-continuation-token"] as string | undefined;
      requests.push({ url: req.url ?? "", token, authorization: req.headers.authorization });
      const top = Number(new URL(req.url ?? "", "http://x").searchParams.get("top"));
      const start = token ? Number(token) : 0;
      const ids = Array.from({ length: 10 }, (_, i) => i).slice(start, start + top);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (start + top < 10) headers["x-ms-continuation-token"] = String(start + top);
      res.writeHead(200, headers);
      res.end(JSON.stringify(ids.map((i) => ({ name: "submitDriver", instanceId: `i${i}`, runtimeStatus: "Completed" }))));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test("reads one page per call, passes the token, returns the next one", async () => {
    const pager = httpInstancePager({ rpcBaseUrl: `${base}/durabletask/` });
    const first = await pager({ top: 4, runtimeStatus: ["Completed", "Failed"], createdTimeFrom: new Date("2025-01-01T00:00:00Z") });
    expect(first.instances.map((s) => s.instanceId)).toEqual(["i0", "i1", "i2", "i3"]);
    expect(first.continuationToken).toBe("4");
    expect(requests).toHaveLength(1);
    const url = new URL(requests[0].url, base);
    expect(url.pathname).toBe("/durabletask/instances/");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      top: "4",
      showInput: "false",
      runtimeStatus: "Completed,Failed",
      createdTimeFrom: "2025-01-01T00:00:00.000Z",
    });
    const last = await pager({ top: 8, continuationToken: "4" });
    expect(last.instances.map((s) => s.instanceId)).toEqual(["i4", "i5", "i6", "i7", "i8", "i9"]);
    expect(last.continuationToken).toBeUndefined();
    expect(requests[1].token).toBe("4");
    expect(requests).toHaveLength(2);
  });

  test("an rpcBaseUrl with credentials (the local runtime's system key) is sent as Basic credentials, not in the URL", async () => {
    requests.length = 0;
    const rpc = new URL(`${base}/durabletask/`);
    rpc.username = "durabletask_extension";
    rpc.password = "the-system-key";
    const page = await httpInstancePager({ rpcBaseUrl: rpc.href })({ top: 2 });
    expect(page.instances).toHaveLength(2);
    expect(requests[0].authorization).toBe(`Basic ${Buffer.from("durabletask_extension:the-system-key").toString("base64")}`);
    expect(requests[0].url).not.toContain("the-system-key");
  });

  test("without rpcBaseUrl the webhook template is used (its key stays server-side)", () => {
    const url = instanceQueryUrl(
      { managementUrls: { id: "INSTANCEID", statusQueryGetUri: "https://app.example/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub=H&connection=Storage&code=KEY" } },
      { top: 5 },
    );
    expect(url).toBe("https://app.example/runtime/webhooks/durabletask/instances/?taskHub=H&connection=Storage&code=KEY&top=5&showInput=false");
  });
});
