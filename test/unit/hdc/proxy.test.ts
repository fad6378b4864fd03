/**
 * A company behind an outbound proxy: with HTTPS_PROXY set, the client's requests go through the
 * proxy (an HTTP CONNECT tunnel, started here on 127.0.0.1), because the client starts from the
 * library's default pipeline, proxy policy included. NO_PROXY still keeps a host direct, which the
 * local stack relies on (it sets NO_PROXY=127.0.0.1,localhost).
 *
 * The library reads NO_PROXY once per module instance, so each case loads the client in a fresh
 * module registry after setting the environment.
 */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import type { HdcClient as HdcClientType } from "../../../src/hdc/client";
import { CountingCredential, ScriptedServer } from "./scriptedServer";

const PRODUCT_ID = "14631253285588838";
const server = new ScriptedServer();
let baseUrl: string;
const connects: string[] = [];
/** Tunnelled sockets leave the HTTP server's bookkeeping: destroyed by hand at the end. */
const tunnels = new Set<net.Socket>();
let proxy: http.Server;
let proxyUrl: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  baseUrl = await server.start();
  proxy = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end("CONNECT only");
  });
  proxy.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(req.url ?? "");
    tunnels.add(client);
    const [host, port] = (req.url ?? "").split(":");
    if (host !== "127.0.0.1") {
      // Never tunnel anywhere but this machine.
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    const upstream = net.connect(Number(port), host, () => {
      tunnels.add(upstream);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  process.env = savedEnv;
  for (const socket of tunnels) socket.destroy();
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await server.close();
});

beforeEach(() => {
  server.reset();
  connects.length = 0;
  for (const name of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"]) delete process.env[name];
});

/** A client from a fresh module registry, so the library reads the proxy environment now. */
function freshClient(): HdcClientType {
  let Client: typeof HdcClientType | undefined;
  jest.isolateModules(() => {
    ({ HdcClient: Client } = require("../../../src/hdc/client") as typeof import("../../../src/hdc/client"));
  });
  return new Client!({
    baseUrl,
    credential: new CountingCredential(),
    scope: "https://manage.devcenter.microsoft.com/.default",
    timeoutMs: 5000,
    maxRetries: 0,
    retryDelayMs: 10,
  });
}

it("sends its requests through the HTTPS_PROXY (CONNECT tunnel)", async () => {
  process.env.HTTPS_PROXY = proxyUrl;
  server.script.push({ status: 200, body: `{"id":${PRODUCT_ID}}` });

  const product = await freshClient().getProduct(PRODUCT_ID);

  expect(product.id).toBe(PRODUCT_ID);
  expect(server.requests).toHaveLength(1);
  expect(connects).toEqual([`127.0.0.1:${new URL(baseUrl).port}`]);
  // The token travelled inside the TLS tunnel, never in the proxy's view.
  expect(server.requests[0]!.headers.authorization).toBe("Bearer token-1");
});

it("goes direct to a host listed in NO_PROXY", async () => {
  process.env.HTTPS_PROXY = proxyUrl;
  process.env.NO_PROXY = "127.0.0.1,localhost";
  server.script.push({ status: 200, body: `{"id":${PRODUCT_ID}}` });

  await freshClient().getProduct(PRODUCT_ID);

  expect(server.requests).toHaveLength(1);
  expect(connects).toEqual([]);
});
