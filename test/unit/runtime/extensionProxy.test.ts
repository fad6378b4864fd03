/**
 * The front's Durable routes on `--engine real` (local/runtime/extensionProxy.ts): which paths go to the
 * extension's HTTP API and where, and that the key the front checked never reaches the extension. The extension
 * is played by a plain HTTP server that records what it receives.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createExtensionProxy, extensionPathFor } from "../../../local/runtime/extensionProxy";
import { HOST_MAX_REQUEST_BODY_BYTES } from "../../../src/domain/requestLimits";

describe("extensionPathFor", () => {
  it("maps the webhook family onto the extension's /durabletask/ and keeps the RPC family as it is", () => {
    expect(extensionPathFor("/runtime/webhooks/durabletask/instances/a%2Fb")).toBe("/durabletask/instances/a%2Fb");
    expect(extensionPathFor("/runtime/webhooks/durabletask/orchestrators/submitDriver")).toBe("/durabletask/orchestrators/submitDriver");
    expect(extensionPathFor("/durabletask/instances/")).toBe("/durabletask/instances/");
  });

  it("leaves every other path alone", () => {
    for (const other of ["/api/submissions", "/runtime/webhooks/eventgrid", "/runtime/webhooks/durabletaskx/instances", "/durabletask"]) {
      expect({ other, mapped: extensionPathFor(other) }).toEqual({ other, mapped: undefined });
    }
  });
});

describe("createExtensionProxy", () => {
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  let extension: http.Server;
  let front: http.Server;
  let frontUrl = "";

  beforeAll(async () => {
    extension = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(202, { "content-type": "application/json", location: "http://127.0.0.1:17071/durabletask/instances/x" });
        res.end('{"id":"x"}');
      });
    });
    await new Promise<void>((resolve) => extension.listen(0, "127.0.0.1", resolve));
    const proxy = createExtensionProxy(`http://127.0.0.1:${(extension.address() as AddressInfo).port}/durabletask/`);
    front = http.createServer((req, res) => {
      void proxy(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(404);
          res.end("not a durable route");
        }
      });
    });
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => front.close(resolve));
    await new Promise((resolve) => extension.close(resolve));
  });

  it("passes a webhook call through with its body, answer and headers, without the front's key", async () => {
    const response = await fetch(`${frontUrl}/runtime/webhooks/durabletask/orchestrators/submitDriver?taskHub=H&code=secret-key`, {
      method: "POST",
      headers: { "x-functions-key": "secret-key", authorization: "Basic c2VjcmV0", "content-type": "application/json" },
      body: '{"input":1}',
    });
    expect(response.status).toBe(202);
    expect(response.headers.get("location")).toBe("http://127.0.0.1:17071/durabletask/instances/x");
    expect(await response.text()).toBe('{"id":"x"}');
    const last = seen[seen.length - 1]!;
    expect({ method: last.method, url: last.url, body: last.body }).toEqual({ method: "POST", url: "/durabletask/orchestrators/submitDriver?taskHub=H", body: '{"input":1}' });
    expect(JSON.stringify(last.headers)).not.toContain("secret");
    expect(last.headers.authorization).toBeUndefined();
  });

  it("refuses a chunked body over the host's limit with 413, as our engine's Durable routes do; the extension gets nothing", async () => {
    const count = seen.length;
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${frontUrl}/runtime/webhooks/durabletask/instances/x/raiseEvent/e`, { method: "POST", headers: { "content-type": "application/json" } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on("error", reject);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const write = () => {
        while (sent <= HOST_MAX_REQUEST_BODY_BYTES) {
          sent += chunk.length;
          if (!request.write(chunk)) return void request.once("drain", write);
        }
        request.end();
      };
      write();
    });
    expect(status).toBe(413);
    expect(seen.length).toBe(count);
  });

  it("does not touch other routes, and answers 502 naming the extension when it is not there", async () => {
    const count = seen.length;
    expect((await fetch(`${frontUrl}/api/submissions`)).status).toBe(404);
    expect(seen.length).toBe(count);

    const gone = createExtensionProxy("http://127.0.0.1:9/durabletask/");
    const lonely = http.createServer((req, res) => void gone(req, res));
    await new Promise<void>((resolve) => lonely.listen(0, "127.0.0.1", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(lonely.address() as AddressInfo).port}/durabletask/instances/`);
      expect(response.status).toBe(502);
      expect(await response.text()).toContain("The Durable Task extension did not answer");
    } finally {
      await new Promise((resolve) => lonely.close(resolve));
    }
  });
});
