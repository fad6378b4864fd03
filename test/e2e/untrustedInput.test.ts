/**
 * Issue 21 (items 3-6), against the running local runtime over Azurite and the emulators: names with
 * "." or empty segments, deeply nested JSON, tampered continuation tokens and hostile Host headers
 * each get a 400 naming the field (or, for a drop, a listed rejection), never a 500, a second
 * instance of one package version or a product at the Hardware Dev Center emulator.
 */
import * as http from "node:http";
import { APP_CONTAINERS } from "../../local/stack";
import { samplePackage } from "../../local/samplePackage";
import { createProductCalls, eventGridKeyHeaders, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

/** HTTP-started packages live outside the watched drops container, so no drop starts them behind the test's back. */
const HTTP_CONTAINER = "e2e-untrusted-http";

interface FieldsBody {
  error?: string;
  fields?: { field: string; reason: string }[];
}

describe("untrusted input on the local runtime", () => {
  let stack: TestStack;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.apiUrl}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-functions-key": stack.functionKey, ...headers }, body });
  const drops = () => stack.blobService.getContainerClient(APP_CONTAINERS.drops);
  const deliver = (event: Record<string, unknown>) =>
    fetch(`${stack.baseUrl}/_local/eventgrid`, { method: "POST", headers: { "content-type": "application/json", ...eventGridKeyHeaders(stack) }, body: JSON.stringify(event) });
  const blobCreated = (id: string, blobName: string, eTag: string, contentLength: number) => ({
    id,
    topic: "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
    subject: `/blobServices/default/containers/${APP_CONTAINERS.drops}/blobs/${blobName}`,
    eventType: "Microsoft.Storage.BlobCreated",
    eventTime: new Date().toISOString(),
    dataVersion: "",
    metadataVersion: "1",
    data: { api: "PutBlob", eTag, contentLength, contentType: "application/octet-stream", blobType: "BlockBlob", url: `${drops().url}/${blobName}` },
  });
  /** Every listed record (submission or rejection) whose package is `blobName`. */
  const listedFor = async (blobName: string) =>
    (await stack.submissions.list({ package: APP_CONTAINERS.drops })).filter((view) => (view.raw.package as { blobName?: string } | undefined)?.blobName === blobName);

  beforeAll(async () => {
    stack = await startTestStack({ appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
    await stack.blobService.getContainerClient(HTTP_CONTAINER).createIfNotExists();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe("names with '.' or empty segments", () => {
    const dotted = (base: string) => [`./${base}`, `././${base}`, `dots/./${base}`, `dots//${base}`, `dots./${base}`, `.\\${base}`, `%2E/${base}`];

    test("POST /api/submissions refuses them with 400 naming package; nothing starts", async () => {
      const pkg = samplePackage({ folder: "dots-http" });
      const http = stack.blobService.getContainerClient(HTTP_CONTAINER);
      // The blobs the storage SDK would reach for these names exist: the old code signed them again.
      await http.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      await http.getBlockBlobClient(`dots/${pkg.fileName}`).uploadData(pkg.bytes);
      const productsBefore = createProductCalls(stack);
      const answers: unknown[] = [];
      for (const name of [...dotted(pkg.fileName), `${pkg.fileName}/.`]) {
        for (const body of [{ package: `${HTTP_CONTAINER}/${name}` }, { package: { container: HTTP_CONTAINER, blobName: name } }]) {
          const response = await post("/submissions", JSON.stringify(body));
          answers.push({ name, status: response.status, fields: ((await response.json()) as FieldsBody).fields });
        }
      }
      expect(answers).toEqual(
        [...dotted(pkg.fileName), `${pkg.fileName}/.`].flatMap((name) => [
          { name, status: 400, fields: [{ field: "package", reason: expect.stringMatching(/^blob name must not contain .*segments/) }] },
          { name, status: 400, fields: [{ field: "package.blobName", reason: expect.stringMatching(/^blob name must not contain .*segments/) }] },
        ]),
      );
      expect(await stack.submissions.list({ package: HTTP_CONTAINER })).toEqual([]);
      expect(createProductCalls(stack)).toBe(productsBefore);
    });

    test("POST /api/uploads refuses a file name that reads as a '.' segment once percent-decoded", async () => {
      const response = await post("/uploads", JSON.stringify({ fileName: "%2E%2Fa.cab", sha256: "a".repeat(64), size: 10 }));
      expect(response.status).toBe(400);
      expect(((await response.json()) as FieldsBody).fields).toEqual([{ field: "fileName", reason: expect.stringMatching(/'\.' segments/) }]);
    });

    test("an Event Grid drop under such a name is a listed rejection, not a second signing of the blob", async () => {
      const pkg = samplePackage({ folder: "dots-drop" });
      const uploaded = await drops().getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      // The real drop starts the one submission of this version.
      await stack.submissions.findByBlob(pkg.fileName, 90_000);
      const names = [`./${pkg.fileName}`, `././${pkg.fileName}`];
      for (const [n, name] of names.entries()) {
        const response = await deliver(blobCreated(`dots-${n}`, name, uploaded.etag!, pkg.bytes.length));
        expect(response.status).toBe(200);
      }
      for (const name of names) {
        const listed = await listedFor(name);
        expect(listed.map((view) => [view.stage, view.raw.reason])).toEqual([["rejected", expect.stringMatching(/^blobName must not contain '\.' segments/)]]);
      }
      expect(await listedFor(pkg.fileName)).toHaveLength(1);
    });
  });

  describe("deeply nested JSON", () => {
    const DEPTH = 30_000; // about 60 KB: under the 64 KiB body limit, far beyond any stack-safe recursion
    const deepArray = `${"[".repeat(DEPTH)}${"]".repeat(DEPTH)}`;
    const deepProduct = `{"additionalAttributes":{"a":${deepArray}}}`;
    const tooDeep = { field: "product.additionalAttributes.a", reason: "must nest at most 32 arrays/objects deep" };

    test("POST /api/submissions and /api/uploads: 400 naming the attribute, not a 500", async () => {
      const pkg = samplePackage({ folder: "deep-http" });
      await stack.blobService.getContainerClient(HTTP_CONTAINER).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      const productsBefore = createProductCalls(stack);
      const start = await post("/submissions", `{"package":"${HTTP_CONTAINER}/${pkg.fileName}","product":${deepProduct}}`);
      expect(start.status).toBe(400);
      expect(((await start.json()) as FieldsBody).fields).toEqual([tooDeep]);
      const upload = await post("/uploads", `{"fileName":"deep.cab","sha256":"${"b".repeat(64)}","size":10,"product":${deepProduct}}`);
      expect(upload.status).toBe(400);
      expect(((await upload.json()) as FieldsBody).fields).toEqual([tooDeep]);
      // Nothing started, no sidecar written for the upload.
      expect(await stack.submissions.list({ package: HTTP_CONTAINER })).toEqual([]);
      expect(await drops().getBlobClient(`ci/${"b".repeat(16)}/deep.cab.json`).exists()).toBe(false);
      expect(createProductCalls(stack)).toBe(productsBefore);
    });

    test("a publish policy or label update nested that deep is refused with 400, never a 500", async () => {
      const deepPublish = await post("/submissions", `{"package":"${HTTP_CONTAINER}/x.cab","publish":{"destination":${deepArray}}}`);
      expect(deepPublish.status).toBe(400);
      const label = await post("/submissions/drv-none/labels", `{"destination":"windowsUpdate","targeting":${deepArray}}`);
      expect(label.status).toBe(400);
      const patch = await fetch(`${stack.apiUrl}/submissions/drv-none/labels/1`, {
        method: "PATCH",
        headers: { "content-type": "application/json", "x-functions-key": stack.functionKey },
        body: `{"targeting":{"hardwareIds":{"add":${deepArray}}}}`,
      });
      expect(patch.status).toBe(400);
    });

    test("a dropped package whose sidecar nests that deep is a listed rejection naming the attribute", async () => {
      const pkg = samplePackage({ folder: "deep-drop" });
      const sidecar = Buffer.from(deepProduct.replace('{"additionalAttributes"', '{"productName":"Deep","additionalAttributes"'));
      await drops().getBlockBlobClient(`${pkg.fileName}.json`).uploadData(sidecar);
      await drops().getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      const id = await stack.submissions.findByBlob(pkg.fileName, 90_000);
      const view = await stack.submissions.get(id);
      expect([view.stage, view.raw.reason]).toEqual(["rejected", `sidecar ${pkg.fileName}.json: additionalAttributes.a must nest at most 32 arrays/objects deep`]);
      const manifest = view.raw.manifest as { container: string; blobName: string };
      const written = JSON.parse((await stack.blobService.getContainerClient(manifest.container).getBlobClient(manifest.blobName).downloadToBuffer()).toString()) as { outcome: string };
      expect(written.outcome).toBe("rejected");
    });
  });

  describe("tampered continuation tokens", () => {
    test("GET /api/submissions answers 400 naming continuationToken for CR/LF or garbage inside the token", async () => {
      const wrap = (inner: string) => Buffer.from(JSON.stringify({ v: 1, t: inner }), "utf8").toString("base64url");
      for (const token of [wrap("eyJhZnRlciI6ImEifQ==\r\nx-injected: 1"), wrap("garbage"), wrap(Buffer.from("{}").toString("base64"))]) {
        const response = await fetch(`${stack.apiUrl}/submissions?continuationToken=${token}`, { headers: { "x-functions-key": stack.functionKey } });
        expect({ status: response.status, body: await response.json() }).toEqual({
          status: 400,
          body: { error: "invalid request", fields: [{ field: "continuationToken", reason: "is not a token this API returned" }] },
        });
      }
    });
  });

  describe("the Host header", () => {
    /** A raw request with a Host header of our choosing (fetch does not let a caller set Host). */
    const rawPost = (path: string, host: string, body: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const { port } = new URL(stack.baseUrl);
        const request = http.request(
          { host: "127.0.0.1", port, path, method: "POST", headers: { Host: host, "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-functions-key": stack.functionKey } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
          },
        );
        request.on("error", reject);
        request.end(body);
      });

    test("statusUrl, cancelUrl and Location are on the configured origin whatever Host the request carries", async () => {
      const pkg = samplePackage({ folder: "host-header" });
      await stack.blobService.getContainerClient(HTTP_CONTAINER).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
      const body = JSON.stringify({ package: `${HTTP_CONTAINER}/${pkg.fileName}` });
      const origin = stack.env.PUBLIC_BASE_URL;
      expect(origin).toBe(stack.baseUrl);
      const accepted = await rawPost("/api/submissions", "attacker.example", body);
      expect(accepted.status).toBe(202);
      const links = JSON.parse(accepted.body) as { id: string; statusUrl: string; cancelUrl: string };
      expect([links.statusUrl, links.cancelUrl, accepted.headers.location]).toEqual([
        `${origin}/api/submissions/${links.id}`,
        `${origin}/api/submissions/${links.id}/cancel`,
        `${origin}/api/submissions/${links.id}`,
      ]);
      // The 409 for the same version, asked through yet another Host, links to the same place.
      const conflict = await rawPost("/api/submissions", "evil.example:8443", body);
      expect(conflict.status).toBe(409);
      expect(conflict.body).not.toContain("evil.example");
      expect((JSON.parse(conflict.body) as { statusUrl: string }).statusUrl).toBe(links.statusUrl);
      expect(await stack.submissions.cancel(links.id)).toBeLessThan(300);
    });

    test("a Host header that is no host name gets 400, not 500", async () => {
      for (const host of ["a b", "a/b", "user@host", "[::1"]) {
        const answer = await rawPost("/api/submissions", host, "{}");
        expect({ host, status: answer.status }).toEqual({ host, status: 400 });
      }
    });
  });
});
