/**
 * The operators' page signs in (issue 31), in headless Chromium on a stack started with entra auth:
 * /api/dashboard without a session is a 401 (Return401, as on Azure); through
 * /.auth/login/aad?post_login_redirect_uri=/api/dashboard and the local tenant's form alice signs
 * in with Sign.Submit and the page lists the run she started with her token; it shows who is signed
 * in and holds no token, key or SAS (DOM, address, every request URL, localStorage,
 * sessionStorage; the session cookie is HttpOnly). When the session ends under it, its calls get
 * 401 and it offers the sign-in link, which brings her back; the sign-out link ends the session and
 * the API answers 401 again. A form on another site makes Chromium send the session cookie with a
 * cross-site POST, without the page's header: crossSiteRefusal refuses exactly that request, and
 * lets the page's own POST through. Without /usr/bin/chromium it is skipped, except under CI=true.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { HttpRequest } from "@azure/functions";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { crossSiteRefusal, PAGE_REQUEST_HEADER, PAGE_REQUEST_VALUE } from "../../src/identity/crossSite";
import { expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const ARTIFACTS = path.resolve(".local-data/artifacts");
const browserIt = HAVE_CHROMIUM || process.env.CI === "true" ? it : it.skip;
const UPLOADS = "e2e-signin-uploads";

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the page signs in (entra mode, Chromium)", () => {
  let stack: TestStack;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let origin: string;
  let aliceToken: string;
  let runId: string;
  const requestUrls: string[] = [];
  let evilServer: http.Server | undefined;

  beforeAll(async () => {
    stack = await startTestStack({ auth: "entra", appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${UPLOADS}` } });
    origin = new URL(stack.apiUrl).origin;
    // A run alice starts with her token (as driver-sign would), held at Microsoft's door so it is listed while running.
    stack.emulators.configure({ faults: [{ pathRegex: "/products/\\d+/submissions$", delayMs: 30_000, times: 1 }] });
    aliceToken = stack.issuer!.issue({ user: "alice", roles: ["Sign.Submit"] });
    const pkg = samplePackage({ folder: "e2e-signin" });
    const container = stack.blobService.getContainerClient(UPLOADS);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const started = await fetch(`${stack.apiUrl}/submissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" },
      body: JSON.stringify({ package: `${UPLOADS}/${pkg.fileName}` }),
    });
    expect(started.status).toBe(202);
    runId = ((await started.json()) as { id: string }).id;
    if (!HAVE_CHROMIUM && process.env.CI !== "true") return;
    browser = await chromium.launch({ executablePath: CHROMIUM });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("request", (request) => requestUrls.push(request.url()));
    // The page's actions ask for confirmation first.
    page.on("dialog", (dialog) => void dialog.accept());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (evilServer ? evilServer.close(() => resolve()) : resolve()));
    await stack?.stop();
  });

  /** The status of a navigation to a 401 with an empty body (Chromium turns it into its own error page). */
  async function statusOfNavigation(url: string): Promise<{ status: number; location?: string }> {
    const response = page.waitForResponse((r) => r.url() === url);
    let failed = false;
    await page.goto(url).catch((error: Error) => {
      if (!error.message.includes("ERR_HTTP_RESPONSE_CODE_FAILURE")) throw error;
      failed = true;
    });
    // Let Chromium's error page finish loading, so it cannot interrupt the next navigation.
    if (failed) await page.waitForURL((u) => u.protocol === "chrome-error:", { timeout: 10_000 });
    const answer = await response;
    return { status: answer.status(), location: answer.headers()["location"] };
  }

  /** Signs in on the local tenant's form (the page the browser is on). */
  async function signInOnTenantForm(user: string, roles: string[]): Promise<void> {
    await page.waitForURL((url) => url.pathname === "/_local/tenant/oauth2/v2.0/authorize");
    await page.fill('input[name="user"]', user);
    for (const role of roles) await page.check(`input[name="role"][value="${role}"]`);
    await Promise.all([page.waitForURL(`${origin}/api/dashboard`), page.click('button[type="submit"]')]);
  }

  /** Nothing secret anywhere the page keeps or shows things. */
  async function expectNoCredentialInThePage(): Promise<void> {
    const html = await page.content();
    // A string: this project compiles without the DOM's types.
    const stores = (await page.evaluate("({ local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }), cookie: document.cookie })")) as Record<string, string>;
    expect(stores).toEqual({ local: "{}", session: "{}", cookie: "" });
    const everything = [html, page.url(), ...requestUrls].join("\n");
    expectNothingSecret(stack, everything);
    expect(everything).not.toContain(aliceToken);
    // (The script's own help text names ?code= for keys mode: only addresses are checked for it.)
    for (const url of [page.url(), ...requestUrls]) expect(url).not.toMatch(/[?&](code|id_token|access_token)=/);
    const session = (await context.cookies()).find((c) => c.name === "AppServiceAuthSession");
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "None", path: "/" });
    expect(html).not.toContain(session!.value);
  }

  browserIt("401 before sign-in; signed in as alice, the page lists her run and holds no credential", async () => {
    expect(await statusOfNavigation(`${origin}/api/dashboard`)).toEqual({ status: 401, location: undefined });

    await page.goto(`${origin}/.auth/login/aad?post_login_redirect_uri=/api/dashboard`);
    await signInOnTenantForm("alice", ["Sign.Submit"]);
    await page.locator(`tr[data-id="${runId}"]`).waitFor();
    expect(await page.locator("body").getAttribute("data-auth")).toBe("entra");
    expect(await page.locator("#access").textContent()).toBe("Signed in as alice, roles: Sign.Submit.");
    // What she may do, from the role table (issue 32): her own runs, nothing of labels, the audit or approvals.
    const may = await page.locator("#may").textContent();
    expect(may).toContain("cancel runs (your own)");
    expect(may).not.toMatch(/labels|audit/);
    expect(await page.locator("#sign-out").getAttribute("href")).toBe("/.auth/logout");
    expect(await page.locator("#sign-in").isHidden()).toBe(true);
    expect(await page.locator(`tr[data-id="${runId}"] td`).nth(1).textContent()).toContain(UPLOADS);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-signed-in.png"), fullPage: true });
    await expectNoCredentialInThePage();
  });

  browserIt("a form on another site gets the session cookie sent with its POST, but not the page's header: refused; the page's own POST carries it", async () => {
    // Another site (localhost is not 127.0.0.1's site) whose page posts a form to the API.
    evilServer = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<form method="post" action="${stack.apiUrl}/submissions/${runId}/cancel"><input name="x" value="1"></form><script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => evilServer!.listen(0, "127.0.0.1", () => resolve()));
    const evilUrl = `http://localhost:${(evilServer.address() as { port: number }).port}/`;
    // What Chromium sends with a POST is captured and the request stopped before it reaches the app.
    const captured: { method: string; headers: Record<string, string> }[] = [];
    await context.route(`${stack.apiUrl}/submissions/**`, async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      captured.push({ method: route.request().method(), headers: await route.request().allHeaders() });
      await route.abort();
    });
    const evil = await context.newPage();
    await evil.goto(evilUrl).catch(() => undefined);
    await until(() => captured.length >= 1);
    expect(captured.length).toBe(1);
    const forged = captured[0];
    expect(forged.method).toBe("POST");
    expect(forged.headers.cookie).toMatch(/AppServiceAuthSession=/);
    expect(forged.headers.origin).toBe(new URL(evilUrl).origin);
    const asTheAppSeesIt = (c: { method: string; headers: Record<string, string> }) => new HttpRequest({ method: c.method, url: `${stack.apiUrl}/submissions/${runId}/cancel`, headers: c.headers });
    expect(crossSiteRefusal(asTheAppSeesIt(forged))?.status).toBe(403);
    await evil.close();

    // The page's own state-changing call: same request, plus the header a cross-site form cannot add.
    await page.goto(`${origin}/api/dashboard#run=${encodeURIComponent(runId)}`);
    await page.locator('button[data-action="cancel"]').click();
    await until(() => captured.length > 1);
    const own = captured.find((c) => c.method === "POST" && c.headers[PAGE_REQUEST_HEADER.toLowerCase()] !== undefined)!;
    expect(own.headers[PAGE_REQUEST_HEADER.toLowerCase()]).toBe(PAGE_REQUEST_VALUE);
    expect(own.headers.cookie).toMatch(/AppServiceAuthSession=/);
    expect(crossSiteRefusal(asTheAppSeesIt(own))).toBeUndefined();
    await context.unroute(`${stack.apiUrl}/submissions/**`);
  });

  browserIt("when the session ends under the page its calls get 401 and it offers the sign-in, which brings alice back", async () => {
    await page.goto(`${origin}/api/dashboard`);
    await page.locator(`tr[data-id="${runId}"]`).waitFor();
    // Signed out elsewhere (another tab): the server forgets the session.
    const out = await context.request.get(`${origin}/.auth/logout`, { maxRedirects: 0 });
    expect(out.status()).toBe(302);
    await page.click("#filters button[type=submit]");
    await page.locator("#sign-in").waitFor({ state: "visible" });
    expect(await page.locator("#notice").textContent()).toContain("HTTP 401");
    expect(await page.locator("#sign-in-link").getAttribute("href")).toBe(`/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent("/api/dashboard")}`);
    await page.click("#sign-in-link");
    await signInOnTenantForm("alice", ["Sign.Submit"]);
    await page.locator(`tr[data-id="${runId}"]`).waitFor();
    await expectNoCredentialInThePage();
  });

  browserIt("sign-out ends the session: the API and the page answer 401 again", async () => {
    await Promise.all([page.waitForURL(`${origin}/.auth/logout/complete`), page.click("#sign-out")]);
    expect((await context.cookies()).find((c) => c.name === "AppServiceAuthSession")).toBeUndefined();
    const status = await page.evaluate(`fetch(${JSON.stringify(`${stack.apiUrl}/submissions`)}, { credentials: "same-origin" }).then((r) => r.status)`);
    expect(status).toBe(401);
    expect((await statusOfNavigation(`${origin}/api/dashboard`)).status).toBe(401);
  });
});
