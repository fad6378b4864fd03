/**
 * The CLI's run() against small HTTP servers on 127.0.0.1 standing in for the service's answers
 * (one branch each): HTTP statuses → SDCM-compatible exit codes, the key never printed nor sent to
 * storage on a redirect (nor a bearer token, issue 31), and downloads verified (a wrong Content-MD5 or size fails with exit 8 and
 * leaves no file). The whole client against the real service is test/e2e/cli.test.ts.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../../../cli/driverSign";
import { resultDocumentSchema, type ResultDocument } from "../../../cli/output";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Server {
  url: string;
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function serve(handler: Handler): Promise<Server> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sink(isTTY = false): NodeJS.WriteStream & { text: string } {
  const stream = { text: "", isTTY, write(chunk: string) { stream.text += chunk; return true; } };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

const KEY = "unit-test-function-key-0123456789";

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; doc?: ResultDocument; stdout: string; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await run(args, { stdout, stderr, env });
  const doc = args.includes("--json") ? resultDocumentSchema.parse(JSON.parse(stdout.text)) : undefined;
  return { code, doc, stdout: stdout.text, stderr: stderr.text };
}

describe("exit codes from the service's HTTP answers", () => {
  const cases: { status: number; body: unknown; headers?: Record<string, string>; exit: number; mentions: RegExp }[] = [
    { status: 401, body: { error: "unauthorized" }, exit: 2, mentions: /401.*--key/ },
    { status: 403, body: { error: "forbidden" }, exit: 2, mentions: /403/ },
    { status: 404, body: { error: "no submission with id x" }, exit: 4, mentions: /no submission/ },
    { status: 409, body: { error: "already finished" }, exit: 5, mentions: /409/ },
    { status: 429, body: { error: "slow down" }, headers: { "retry-after": "7" }, exit: 6, mentions: /retry after 7/ },
    { status: 500, body: { error: "boom" }, exit: 3, mentions: /500/ },
    { status: 400, body: { error: "invalid request", fields: [{ field: "status", reason: "must be a runtime status" }] }, exit: 1, mentions: /status must be a runtime status/ },
  ];

  test.each(cases)("HTTP $status → exit $exit", async ({ status, body, headers, exit, mentions }) => {
    const server = await serve((_req, res) => json(res, status, body, headers));
    try {
      const result = await cli(["list", "--url", `${server.url}/api`, "--key", KEY, "--json"]);
      expect(result.code).toBe(exit);
      expect(result.doc).toMatchObject({ command: "list", exitCode: exit, outcome: "error", error: { httpStatus: status } });
      expect(result.doc!.message).toMatch(mentions);
      expect(server.seen[0]["x-functions-key"]).toBe(KEY);
      expect(result.stdout + result.stderr).not.toContain(KEY);
    } finally {
      await server.close();
    }
  });

  test("a bearer token the service refuses is exit 2 naming the auth mode; the token is sent, never printed", async () => {
    const TOKEN = "eyJhbGciOiJSUzI1NiJ9.unit-test-token-payload.signature-part";
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driver-sign-token-"));
    const server = await serve((_req, res) => json(res, 401, { error: `bad token ${TOKEN}` }));
    try {
      const file = path.join(dir, "token");
      fs.writeFileSync(file, `${TOKEN}\n`);
      const viaFile = await cli(["list", "--url", `${server.url}/api`, "--token-file", file, "--json"]);
      expect(viaFile.code).toBe(2);
      expect(viaFile.doc!.message).toMatch(/401.*auth: bearer token from the token file/);
      const viaEnv = await cli(["list", "--url", `${server.url}/api`], { DRIVER_SIGN_TOKEN: TOKEN });
      expect(viaEnv.code).toBe(2);
      expect(viaEnv.stderr).toMatch(/401.*auth: bearer token from DRIVER_SIGN_TOKEN/);
      expect(server.seen.map((h) => [h.authorization, h["x-functions-key"]])).toEqual([
        [`Bearer ${TOKEN}`, undefined],
        [`Bearer ${TOKEN}`, undefined],
      ]);
      for (const out of [viaFile, viaEnv]) expect(out.stdout + out.stderr).not.toContain(TOKEN.slice(10));
      // A missing token file is the same auth failure, before any request.
      const missing = await cli(["list", "--url", `${server.url}/api`, "--token-file", path.join(dir, "nope"), "--json"]);
      expect(missing.code).toBe(2);
      expect(missing.doc!.message).toMatch(/cannot read the token file .*nope: ENOENT/);
      expect(server.seen).toHaveLength(2);
      // Two credentials at once is an argument error naming both.
      const both = await cli(["list", "--url", `${server.url}/api`, "--key", KEY, "--token-file", file, "--json"]);
      expect(both.code).toBe(1);
      expect(both.doc!.message).toMatch(/either --key .* or a bearer token \(--token-file\)/);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an unreachable service is an API error (3); the key is not echoed from a mistyped option either", async () => {
    const server = await serve((_req, res) => json(res, 200, []));
    const url = server.url;
    await server.close();
    expect((await cli(["status", "abc", "--url", url, "--key", KEY])).code).toBe(3);
    const typo = await cli(["status", "abc", "--url", url, `--kye=${KEY}`]);
    expect(typo.code).toBe(1);
    expect(typo.stdout + typo.stderr).not.toContain(KEY.slice(0, 20));
  });
});

describe("a drop the service rejected", () => {
  test("is exit 5 with the reason, never 0 (it is recorded as a Completed run with stage rejected)", async () => {
    const view = {
      id: "drv-rejected",
      runtimeStatus: "Completed",
      stage: "rejected",
      outcome: "rejected",
      reason: "sidecar: productName must be a non-empty string",
      package: { container: "driver-drops", blobName: "x.zip" },
    };
    const server = await serve((_req, res) => json(res, 200, view));
    try {
      for (const command of ["status", "wait"]) {
        const result = await cli([command, "drv-rejected", "--url", `${server.url}/api`, "--key", KEY, "--json"]);
        expect(result.code).toBe(5);
        expect(result.doc).toMatchObject({ exitCode: 5, outcome: "rejected" });
        expect(result.doc!.message).toContain("productName must be a non-empty string");
      }
      expect((await cli(["download", "drv-rejected", "--out", os.tmpdir(), "--url", `${server.url}/api`, "--key", KEY])).code).toBe(5);
    } finally {
      await server.close();
    }
  });
});

describe("download: redirects and verification", () => {
  const manifestBody = Buffer.from(JSON.stringify({ outcome: "succeeded", signedPackage: { container: "c", blobName: "x/Signed_42.zip", contentLength: 11 } }));
  const signedBody = Buffer.from("signed-zip!");
  const md5 = (bytes: Buffer) => createHash("md5").update(bytes).digest("base64");
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "driver-sign-unit-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function withServers(signedHeaders: Record<string, string>, test: (api: Server, storage: Server) => Promise<void>): Promise<void> {
    const storage = await serve((req, res) => {
      const body = req.url?.startsWith("/blobs/manifest.json") ? manifestBody : signedBody;
      const headers = req.url?.startsWith("/blobs/manifest.json") ? { "content-md5": md5(manifestBody) } : signedHeaders;
      res.writeHead(200, { "content-length": body.length, ...headers });
      res.end(body);
    });
    const api = await serve((req, res) => {
      if (req.url === "/api/submissions/abc") return json(res, 200, { id: "abc", runtimeStatus: "Completed", stage: "succeeded", submissionId: "42", signedPackage: {} });
      if (req.url === "/api/submissions/abc/manifest") return json(res, 302, {}, { location: `${storage.url}/blobs/manifest.json?sv=1&sig=SECRETSIG` });
      if (req.url === "/api/submissions/abc/signed-package") return json(res, 302, {}, { location: `${storage.url}/blobs/Signed_42.zip?sv=1&sig=SECRETSIG` });
      if (req.url === "/api/submissions/abc/driver-metadata") return json(res, 404, { error: "submission abc is signed but Microsoft offered no driver metadata" });
      json(res, 500, { error: "unexpected" });
    });
    try {
      await test(api, storage);
    } finally {
      await api.close();
      await storage.close();
    }
  }

  test("follows the redirects without sending the key to storage and records what it verified", async () => {
    await withServers({ "content-md5": md5(signedBody) }, async (api, storage) => {
      const result = await cli(["download", "abc", "--out", dir, "--url", `${api.url}/api`, "--key", KEY, "--json"]);
      expect(result.code).toBe(0);
      expect(storage.seen).toHaveLength(2);
      for (const headers of storage.seen) expect(headers["x-functions-key"]).toBeUndefined();
      const signed = result.doc!.files.find((file) => file.kind === "signedPackage")!;
      expect(signed).toMatchObject({ path: path.join(dir, "Signed_42.zip"), bytes: 11, sha256: createHash("sha256").update(signedBody).digest("hex") });
      expect(signed.verified.sort()).toEqual(["contentLength", "contentMd5", "manifestSize"]);
      expect(result.doc!.files.map((file) => file.kind)).toEqual(["manifest", "signedPackage"]);
      expect(result.stdout + result.stderr).not.toContain("SECRETSIG");
    });
  });

  test("with a token file, the token goes to the API only: not to storage on the redirects", async () => {
    await withServers({ "content-md5": md5(signedBody) }, async (api, storage) => {
      const file = path.join(os.tmpdir(), `driver-sign-token-${process.pid}`);
      fs.writeFileSync(file, "unit-test-bearer-token-0123456789");
      try {
        const result = await cli(["download", "abc", "--out", dir, "--url", `${api.url}/api`, "--token-file", file, "--json"]);
        expect(result.code).toBe(0);
        expect(api.seen.length).toBeGreaterThanOrEqual(3);
        for (const headers of api.seen) expect(headers.authorization).toBe("Bearer unit-test-bearer-token-0123456789");
        expect(storage.seen).toHaveLength(2);
        for (const headers of storage.seen) expect([headers.authorization, headers["x-functions-key"]]).toEqual([undefined, undefined]);
        expect(result.stdout + result.stderr).not.toContain("unit-test-bearer-token");
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });

  test("a Content-MD5 that does not match fails with exit 8 and leaves no file", async () => {
    await withServers({ "content-md5": md5(Buffer.from("other bytes")) }, async (api) => {
      const result = await cli(["download", "abc", "--out", dir, "--url", `${api.url}/api`, "--json"]);
      expect(result.code).toBe(8);
      expect(result.doc!.message).toMatch(/failed verification.*MD5/);
      expect(fs.readdirSync(dir).sort()).toEqual(["manifest.json"]);
    });
  });
});

describe("submit --product with a publish section", () => {
  test("sends `publish` as the request's own field, product fields without it", async () => {
    const bodies: Record<string, unknown> = {};
    const server = await serve((req, res) => {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      req.on("end", () => {
        const route = `${req.method} ${req.url?.split("?")[0]}`;
        if (text) bodies[route] = JSON.parse(text);
        if (route === "POST /api/uploads") return json(res, 200, { exists: true, package: "driver-drops/ci/0123456789abcdef/contoso-1.0.0.hlkx" });
        if (route === "POST /api/submissions") return json(res, 202, { id: "drv-0123", runtimeStatus: "Pending" });
        return json(res, 200, { id: "drv-0123", runtimeStatus: "Running", stage: "queued", messages: [], stageHistory: [] });
      });
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-publish-"));
    try {
      const pkg = path.join(dir, "contoso-1.0.0.hlkx");
      fs.writeFileSync(pkg, "package bytes");
      const productFile = path.join(dir, "product.json");
      const publish = { destination: "anotherPartner", receiverPublisherId: "27691110" };
      fs.writeFileSync(productFile, JSON.stringify({ productName: "Contoso USB", publish }));
      const result = await cli(["submit", pkg, "--product", productFile, "--url", `${server.url}/api`, "--key", KEY, "--json"]);
      expect(result.code).toBe(0);
      expect(bodies["POST /api/uploads"]).toMatchObject({ product: { productName: "Contoso USB" } });
      expect((bodies["POST /api/uploads"] as { product: object }).product).not.toHaveProperty("publish");
      expect(bodies["POST /api/submissions"]).toEqual({ package: "driver-drops/ci/0123456789abcdef/contoso-1.0.0.hlkx", product: { productName: "Contoso USB" }, publish });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await server.close();
    }
  });
});
