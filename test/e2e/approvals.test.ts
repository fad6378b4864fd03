/**
 * A second person before Windows Update (issue 34), end to end on the local runtime in entra mode
 * with tokens from the stack's local issuer, on the real clock (a label waits its 7 days there; the
 * virtual clock would run them out at once). alice (Sign.Submit + Sign.Publish) submits a package
 * with a Windows Update policy: its label run waits in awaitingApproval, showing the label, alice as
 * requester and the deadline, and nothing is created at Microsoft. alice's own approval is refused
 * (403, the reason named) and audited; bad bodies are 400 naming the field and change nothing; bob
 * (Sign.Approve) approves: exactly one label is created. A second label run that carol rejects ends
 * `rejected` with the reason and creates nothing.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromium } from "playwright-core";
import { LocalIssuer } from "../../local/identity/issuer";
import { samplePackage } from "../../local/samplePackage";
import { labelBehaviourPatch } from "../../local/emulators/shippingLabels";
import { APP_CONTAINERS } from "../../local/stack";
import type { AuditRecord } from "../../src/domain/audit";
import { expectNothingSecret, startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(240_000);

const CHROMIUM = "/usr/bin/chromium";
const browserIt = fs.existsSync(CHROMIUM) || process.env.CI === "true" ? it : it.skip;

const HTTP_CONTAINER = "e2e-approval-packages";
const CLI = path.resolve(__dirname, "../../dist/cli/driverSign.js");

/** The built CLI with a token file (the token never on its command line). */
function runCli(args: string[], tokenFile: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("DRIVER_SIGN_")) env[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, DRIVER_SIGN_TOKEN_FILE: tokenFile }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
const NO_EXTENSION = { exclude: [{ inf: "contoso_ext.inf" }] };
type Json = Record<string, any>;

describe("approval of Windows Update labels (entra mode, real clock)", () => {
  let stack: TestStack;
  let dataDir: string;
  let token: { alice: string; aliceApprover: string; bob: string; carol: string; olga: string; sam: string };
  let oid: { alice: string; bob: string };
  const seen: string[] = [];

  async function call(who: keyof typeof token, method: string, route: string, body?: unknown) {
    const response = await fetch(`${stack.apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token[who]}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    seen.push(text);
    const json = response.headers.get("content-type")?.includes("application/json") && text ? (JSON.parse(text) as Json) : {};
    return { status: response.status, json, text, headers: response.headers };
  }

  const labelCreates = () => stack.emulators.requests().entries.filter((e) => e.kind === "createShippingLabel" && e.status < 300).length;

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function labelRun(id: string, run: string): Promise<Json | undefined> {
    const listed = await call("olga", "GET", `/submissions/${id}/labels`);
    return (listed.json.items as Json[] | undefined)?.find((item) => item.instanceId === run);
  }

  async function auditOf(id: string): Promise<AuditRecord[]> {
    const page = await call("olga", "GET", `/audit?submission=${encodeURIComponent(id)}&action=approval.decide&pageSize=100`);
    expect(page.status).toBe(200);
    return page.json.items as AuditRecord[];
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-approvals-"));
    const issuer = LocalIssuer.loadOrCreate(dataDir);
    token = {
      alice: issuer.issue({ user: "alice", roles: ["Sign.Submit", "Sign.Publish"] }),
      // The same person holding Sign.Approve as well: still the requester of her own label.
      aliceApprover: issuer.issue({ user: "alice", roles: ["Sign.Submit", "Sign.Publish", "Sign.Approve"] }),
      bob: issuer.issue({ user: "bob", roles: ["Sign.Approve"] }),
      carol: issuer.issue({ user: "carol", roles: ["Sign.Approve"] }),
      olga: issuer.issue({ user: "olga", roles: ["Sign.Operate"] }),
      sam: issuer.issue({ user: "sam", roles: ["Sign.Submit"] }),
    };
    const oidOf = (t: string) => (JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString("utf8")) as { oid: string }).oid;
    oid = { alice: oidOf(token.alice), bob: oidOf(token.bob) };
    stack = await startTestStack({
      auth: "entra",
      dataDir,
      virtualClock: false,
      behaviour: { workflow: { stepSeconds: 1, commitSeconds: 1 } },
      appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}`, POLL_INITIAL_SECONDS: "1", POLL_MAX_SECONDS: "1", LABEL_POLL_INITIAL_SECONDS: "1", LABEL_POLL_MAX_SECONDS: "1" },
    });
    // A created label passes Microsoft's approval and rollout in seconds (real clock).
    stack.emulators.configure(labelBehaviourPatch({ approvalSeconds: 1, rolloutSeconds: 0, stepSeconds: 1 }));
  });
  afterAll(async () => {
    if (stack) for (const text of seen) expectNothingSecret(stack, text);
    await stack?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  let id: string;

  it("a Windows Update label waits in awaitingApproval with the label, the requester and the deadline; nothing is created", async () => {
    const pkg = samplePackage({ folder: "approval-wu" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const started = await call("alice", "POST", "/submissions", { package: `${HTTP_CONTAINER}/${pkg.fileName}`, publish: { destination: "windowsUpdate", hardwareIds: NO_EXTENSION } });
    if (started.status !== 202) throw new Error(`start: ${started.status} ${started.text}`);
    id = String(started.json.id);
    const waiting = await until("awaitingApproval", async () => {
      const run = await labelRun(id, `${id}-label-1`);
      return run?.label?.phase === "awaitingApproval" ? run : undefined;
    });
    expect(waiting.label).toMatchObject({ destination: "windowsUpdate", hardwareIdCount: expect.any(Number), approval: { requester: { objectId: oid.alice, name: "alice" } } });
    const { requestedAt, deadline } = waiting.label.approval;
    expect(Date.parse(deadline) - Date.parse(requestedAt)).toBe(168 * 3600_000);
    expect(labelCreates()).toBe(0);

    // GET /api/approvals lists it for approvers: bob may decide but not open alice's submission; alice (also an
    // approver) may open it but not decide; a submitter without Sign.Approve is refused.
    const forBob = ((await call("bob", "GET", "/approvals")).json.items as Json[]).find((item) => item.labelRun === `${id}-label-1`);
    expect(forBob).toMatchObject({ id, mayDecide: true, mayView: false, requester: { objectId: oid.alice } });
    const forAlice = ((await call("aliceApprover", "GET", "/approvals")).json.items as Json[]).find((item) => item.labelRun === `${id}-label-1`);
    expect(forAlice).toMatchObject({ id, mayDecide: false, mayView: true });
    expect((await call("sam", "GET", "/approvals")).status).toBe(403);
  });

  it("bad input is 400 naming the field; a submitter without Sign.Approve is 403; nothing is decided", async () => {
    const cases: [unknown, string][] = [
      [{ decision: "maybe", comment: "" }, "decision"],
      [{ decision: "reject", comment: "  " }, "comment"],
      [{ decision: "approve" }, "comment"],
      [{ decision: "approve", comment: "", approver: { objectId: oid.bob, name: "bob" } }, "approver"],
      [{ decision: "approve", comment: "", labelRun: "other-label-1" }, "labelRun"],
      [{ decision: "approve", comment: "", labelId: "1" }, "labelId"],
    ];
    for (const [body, field] of cases) {
      const answer = await call("bob", "POST", `/submissions/${id}/approvals`, body);
      expect({ field, status: answer.status }).toEqual({ field, status: 400 });
      expect((answer.json.fields as { field: string }[]).map((f) => f.field)).toContain(field);
    }
    expect((await call("bob", "POST", `/submissions/${id}/approvals`, "not json")).status).toBe(400);
    expect((await call("sam", "POST", `/submissions/${id}/approvals`, { decision: "approve", comment: "" })).status).toBe(403);
    expect((await call("bob", "POST", `/submissions/no-such-run/approvals`, { decision: "approve", comment: "" })).status).toBe(404);
    expect((await labelRun(id, `${id}-label-1`))?.label?.phase).toBe("awaitingApproval");
    expect(labelCreates()).toBe(0);
  });

  it("alice may not approve her own label, not even holding Sign.Approve: 403 with the reason, each recorded in the audit trail; the label still waits", async () => {
    // Without Sign.Approve the caller gate refuses (role).
    const noRole = await call("alice", "POST", `/submissions/${id}/approvals`, { decision: "approve", comment: "looks fine to me" });
    expect(noRole.status).toBe(403);
    expect(noRole.json).toMatchObject({ action: "approval.decide", allowedRoles: ["Sign.Approve"] });
    // With it, the route refuses the requester.
    const own = await call("aliceApprover", "POST", `/submissions/${id}/approvals`, { decision: "approve", comment: "looks fine to me" });
    expect(own.status).toBe(403);
    expect(own.json).toMatchObject({ reason: "requester", labelRun: `${id}-label-1` });
    expect(own.json.error).toMatch(/requester may not decide on their own label: alice asked/);
    const records = (await auditOf(id)).filter((r) => r.principal.objectId === oid.alice);
    expect(records.map((r) => r.outcome.refusal).sort()).toEqual(["requester", "role"]);
    const refusal = records.find((r) => r.outcome.refusal === "requester");
    expect(refusal).toMatchObject({ action: "approval.decide", outcome: { result: "refused" }, target: { instance: id } });
    expect(refusal!.outcome.reason).toMatch(/^403 /);
    expect((await labelRun(id, `${id}-label-1`))?.label?.phase).toBe("awaitingApproval");
    expect(labelCreates()).toBe(0);
  });

  it("bob approves: 202 with the labels' status URL, exactly one label is created, the decision is in status and in the audit trail", async () => {
    const approved = await call("bob", "POST", `/submissions/${id}/approvals`, { decision: "approve", comment: "hardware ids checked" });
    expect(approved.status).toBe(202);
    expect(approved.json).toMatchObject({ id, labelRun: `${id}-label-1`, decision: "approve", statusUrl: `${stack.apiUrl}/submissions/${id}/labels` });
    const created = await until("the label created", async () => {
      const run = await labelRun(id, `${id}-label-1`);
      return run?.label?.labelId ? run : undefined;
    });
    expect(created.label.approval).toMatchObject({ decision: "approve", approver: { objectId: oid.bob, name: "bob" }, comment: "hardware ids checked" });
    expect(labelCreates()).toBe(1);
    // A second decision finds nothing waiting: 409 naming the phase, nothing created.
    const again = await call("bob", "POST", `/submissions/${id}/approvals`, { decision: "approve", comment: "" });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/not waiting for approval: its phase is /);
    expect(labelCreates()).toBe(1);
    const records = await auditOf(id);
    const decided = records.find((r) => r.principal.objectId === oid.bob && r.outcome.result === "ok");
    expect(decided).toMatchObject({ action: "approval.decide", target: { instance: id } });
    expect(decided!.outcome.reason).toMatch(/^202; approve label run .*-label-1$/);
  });

  it("carol rejects a second label run with driver-sign reject (alice's driver-sign approve refused): it ends rejected with the reason, nothing is created", async () => {
    // The first label run must be over before alice asks again (one label run at a time).
    await until("the first label run to end", async () => ((await labelRun(id, `${id}-label-1`))?.runtimeStatus === "Completed" ? true : undefined));
    const asked = await call("alice", "POST", `/submissions/${id}/labels`, { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    if (asked.status !== 202) throw new Error(`label: ${asked.status} ${asked.text}`);
    const run = String(asked.json.labelRun);
    await until("awaitingApproval", async () => ((await labelRun(id, run))?.label?.phase === "awaitingApproval" ? true : undefined));
    const before = labelCreates();
    // Through the CLI: alice's own approval is refused (exit 2, the reason printed); carol's reject is sent.
    const aliceFile = path.join(dataDir, "alice.token");
    const carolFile = path.join(dataDir, "carol.token");
    fs.writeFileSync(aliceFile, token.aliceApprover, { mode: 0o600 });
    fs.writeFileSync(carolFile, token.carol, { mode: 0o600 });
    const own = await runCli(["--url", stack.apiUrl, "approve", id, "--comment", ""], aliceFile);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/HTTP 403: the requester may not decide on their own label/);
    const missing = await runCli(["--url", stack.apiUrl, "reject", id], carolFile);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--comment/);
    const rejected = await runCli(["--url", stack.apiUrl, "--json", "reject", id, "--label", run.slice(run.lastIndexOf("-") + 1), "--comment", "wrong audience"], carolFile);
    expect({ code: rejected.code, stderr: rejected.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(rejected.stdout)).toMatchObject({ command: "reject", outcome: "decided", exitCode: 0, id, message: expect.stringContaining(`Rejected ${run}: no label is created`) });
    for (const text of [own.stdout, own.stderr, rejected.stdout]) expectNothingSecret(stack, text);
    const done = await until("rejected", async () => {
      const item = await labelRun(id, run);
      return item?.runtimeStatus === "Completed" ? item : undefined;
    });
    expect(done.label).toMatchObject({ phase: "rejected", approval: { decision: "reject", comment: "wrong audience" } });
    expect(done.label.error).toMatch(/rejected by carol: wrong audience; nothing was created at Microsoft/);
    expect(labelCreates()).toBe(before);
  });

  browserIt("the page (Chromium, signed in): alice sees her waiting label without Approve / Reject; bob sees the exact label, requester and deadline, approves with a comment, and one label is created", async () => {
    await until("the previous label run to end", async () => {
      const listed = await call("olga", "GET", `/submissions/${id}/labels`);
      return (listed.json.items as Json[]).every((item) => ["Completed", "Failed", "Terminated"].includes(item.runtimeStatus)) ? true : undefined;
    });
    const asked = await call("alice", "POST", `/submissions/${id}/labels`, { destination: "windowsUpdate", hardwareIds: NO_EXTENSION, goLiveDate: "2030-01-01T00:00:00Z" });
    if (asked.status !== 202) throw new Error(`label: ${asked.status} ${asked.text}`);
    const run = String(asked.json.labelRun);
    await until("awaitingApproval", async () => ((await labelRun(id, run))?.label?.phase === "awaitingApproval" ? true : undefined));
    const before = labelCreates();
    const origin = new URL(stack.apiUrl).origin;
    const browser = await chromium.launch({ executablePath: CHROMIUM });
    try {
      const signIn = async (user: string, roles: string[]) => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        page.on("dialog", (dialog) => void dialog.accept());
        await page.goto(`${origin}/.auth/login/aad?post_login_redirect_uri=/api/dashboard`);
        await page.waitForURL((url) => url.pathname === "/_local/tenant/oauth2/v2.0/authorize");
        await page.fill('input[name="user"]', user);
        for (const role of roles) await page.check(`input[name="role"][value="${role}"]`);
        await Promise.all([page.waitForURL(`${origin}/api/dashboard`), page.click('button[type="submit"]')]);
        return page;
      };
      // alice holds Sign.Approve too: her own label is listed, with no way to decide it.
      const alice = await signIn("alice", ["Sign.Submit", "Sign.Publish", "Sign.Approve"]);
      const hers = alice.locator(`[data-label-run="${run}"]`);
      await hers.waitFor();
      expect(await hers.locator('[data-approval="not-yours"]').count()).toBe(1);
      expect(await hers.locator('[data-action="approve"]').count()).toBe(0);
      expect(await hers.locator('[data-action="reject"]').count()).toBe(0);
      // Her own submission: linked. bob (Sign.Approve only) may not open it: its id without a link (a link would be a 404).
      expect(await hers.locator('[data-link="run"]').getAttribute("href")).toBe(`#run=${id}`);

      const bob = await signIn("bob", ["Sign.Approve"]);
      const item = bob.locator(`[data-label-run="${run}"]`);
      await item.waitFor();
      expect(await item.locator('[data-link="run"]').count()).toBe(0);
      expect(await item.locator('[data-approval="run-id"]').textContent()).toBe(id);
      const factOf = async (name: string) => (await item.locator(`[data-fact="${name}"]`).textContent())?.trim();
      expect(await factOf("destination")).toBe("windowsUpdate");
      expect(Number(await factOf("hardware ids"))).toBeGreaterThan(0);
      expect(await factOf("goLiveDate")).toBe("2030-01-01T00:00:00Z");
      expect(await factOf("requester")).toBe(`alice (${oid.alice})`);
      const listed = (await labelRun(id, run))!.label;
      expect(await factOf("deadline")).toBe(new Date(listed.approval.deadline).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z"));
      expect(await item.locator('[data-fact="hardware id sample"] li').count()).toBe(listed.hardwareIdSample.length);
      await item.locator('[data-approval="comment"]').fill("checked on the page");
      await item.locator('[data-action="approve"]').click();
      await bob.locator("#action-result").filter({ hasText: `Approved ${run}` }).waitFor();
      const created = await until("the label created", async () => {
        const found = await labelRun(id, run);
        return found?.label?.labelId ? found : undefined;
      });
      expect(created.label.approval).toMatchObject({ decision: "approve", approver: { objectId: oid.bob, name: "bob" }, comment: "checked on the page" });
      expect(labelCreates()).toBe(before + 1);
      await bob.locator('[data-approval="none"]').waitFor();
      expectNothingSecret(stack, await bob.content());
    } finally {
      await browser.close();
    }
  });

  it("kill -9 of the runtime while a label waits changes nothing: after the restart it still waits (same deadline, nothing created) and one approval creates exactly one label", async () => {
    await until("the previous label run to end", async () => {
      const listed = await call("olga", "GET", `/submissions/${id}/labels`);
      return (listed.json.items as Json[]).every((item) => ["Completed", "Failed", "Terminated"].includes(item.runtimeStatus)) ? true : undefined;
    });
    const asked = await call("alice", "POST", `/submissions/${id}/labels`, { destination: "windowsUpdate", hardwareIds: NO_EXTENSION });
    if (asked.status !== 202) throw new Error(`label: ${asked.status} ${asked.text}`);
    const run = String(asked.json.labelRun);
    const waiting = await until("awaitingApproval", async () => {
      const found = await labelRun(id, run);
      return found?.label?.phase === "awaitingApproval" ? found : undefined;
    });
    const before = labelCreates();
    const killedPid = stack.runtime.pid;
    await stack.runtime.kill("SIGKILL");
    await stack.runtime.restart();
    expect(stack.runtime.pid).not.toBe(killedPid);
    // Give the restarted runtime time to replay; the wait (and its deadline) must be as before.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await until("the run readable again", async () => labelRun(id, run).catch(() => undefined));
    expect(after.runtimeStatus).toBe("Running");
    expect(after.label.phase).toBe("awaitingApproval");
    expect(after.label.approval).toMatchObject({ requestedAt: waiting.label.approval.requestedAt, deadline: waiting.label.approval.deadline, requester: { objectId: oid.alice } });
    expect(labelCreates()).toBe(before);
    const approved = await call("bob", "POST", `/submissions/${id}/approvals`, { decision: "approve", comment: "after the crash" });
    expect(approved.status).toBe(202);
    await until("the label created", async () => ((await labelRun(id, run))?.label?.labelId ? true : undefined));
    await new Promise((r) => setTimeout(r, 2000));
    expect(labelCreates()).toBe(before + 1);
  });
});

describe("approval of Windows Update labels (entra mode, virtual clock): no decision by the deadline", () => {
  let stack: TestStack;
  let dataDir: string;
  let alice: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-approvals-expiry-"));
    alice = LocalIssuer.loadOrCreate(dataDir).issue({ user: "alice", roles: ["Sign.Submit", "Sign.Publish"] });
    stack = await startTestStack({ auth: "entra", dataDir, appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}`, APPROVAL_DEADLINE_HOURS: "48" } });
  });
  afterAll(async () => {
    await stack?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("the label run ends expired at its deadline with the reason in status; nothing is created at Microsoft", async () => {
    const pkg = samplePackage({ folder: "approval-expiry" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const headers = { authorization: `Bearer ${alice}`, "content-type": "application/json" };
    const started = await fetch(`${stack.apiUrl}/submissions`, { method: "POST", headers, body: JSON.stringify({ package: `${HTTP_CONTAINER}/${pkg.fileName}`, publish: { destination: "windowsUpdate", hardwareIds: NO_EXTENSION } }) });
    const startText = await started.text();
    if (started.status !== 202) throw new Error(`start: ${started.status} ${startText}`);
    const id = String((JSON.parse(startText) as Json).id);
    const deadline = Date.now() + 120_000;
    let run: Json | undefined;
    for (;;) {
      const listed = await fetch(`${stack.apiUrl}/submissions/${id}/labels`, { headers });
      const items = listed.status === 200 ? (((await listed.json()) as Json).items as Json[]) : [];
      run = items.find((item) => item.instanceId === `${id}-label-1`);
      if (run?.runtimeStatus === "Completed") break;
      if (Date.now() > deadline) throw new Error(`label run did not end: ${JSON.stringify(run)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(run!.label).toMatchObject({ phase: "expired", approval: { requester: { name: "alice" } } });
    expect(run!.label.error).toMatch(/^no approval decision by .*; nothing was created at Microsoft$/);
    expect(Date.parse(run!.label.approval.deadline) - Date.parse(run!.label.approval.requestedAt)).toBe(48 * 3600_000);
    expect(stack.emulators.requests().entries.filter((e) => e.kind === "createShippingLabel").length).toBe(0);
  });
});
