/**
 * The route × role matrix (issue 32) on the local runtime in entra mode, with real tokens from the
 * stack's local issuer: every HTTP route the app registers, called by a user holding only
 * Sign.Submit, only Sign.Publish, only Sign.Approve, only Sign.Operate, a user with no role, and an
 * application holding only an unrelated role. The expected matrix is written out below by hand; a
 * refusal is a 403 naming the route's action and the roles that allow it, an admission is whatever
 * the handler answers (400/404 for the placeholder ids and empty bodies, 200 for the page), never
 * 401/403. POST bodies are `{}`: an admitted caller gets the handler's 400 about the body's fields,
 * a refused one the gate's 403, so the gate answers before the body is read.
 */
jest.mock("@azure/functions-core", () => jest.requireActual("../../local/functionsHost/coreStandIn"), { virtual: true });

import * as path from "node:path";
import { AppHost, type HttpTriggerInfo } from "../../local/runtime/appHost";
import { DIST_DIR } from "../../local/runtime/paths";
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS } from "../../local/stack";
import { startTestStack, type TestStack } from "../support/stack";

jest.setTimeout(180_000);

const HTTP_CONTAINER = "e2e-matrix-uploads";

const CALLERS = ["Sign.Submit", "Sign.Publish", "Sign.Approve", "Sign.Operate", "no role", "unrelated role"] as const;
type CallerName = (typeof CALLERS)[number];

const S = "Sign.Submit";
const P = "Sign.Publish";
const A = "Sign.Approve";
const O = "Sign.Operate";

/** Per registered function: its action and the callers it admits (everyone else: 403). */
const EXPECTED: Record<string, { action: string; allowed: CallerName[] }> = {
  createUpload: { action: "upload.create", allowed: [S] },
  startSubmission: { action: "submission.start", allowed: [S] },
  submissionStatus: { action: "submission.status", allowed: [S, O] },
  listSubmissions: { action: "submission.list", allowed: [S, O] },
  cancelSubmission: { action: "submission.cancel", allowed: [S, O] },
  signedPackageLink: { action: "submission.files", allowed: [S, O] },
  driverMetadataLink: { action: "submission.files", allowed: [S, O] },
  manifestLink: { action: "submission.files", allowed: [S, O] },
  errorReportLink: { action: "submission.files", allowed: [S, O] },
  startLabel: { action: "label.create", allowed: [P] },
  listLabels: { action: "label.list", allowed: [P, O] },
  updateLabel: { action: "label.change", allowed: [P] },
  cancelLabel: { action: "label.cancel", allowed: [P] },
  labelChangeStatus: { action: "label.changeStatus", allowed: [P, O] },
  dashboard: { action: "dashboard.view", allowed: [S, P, A, O] },
  readAudit: { action: "audit.read", allowed: [O] },
  decideApproval: { action: "approval.decide", allowed: [A] },
  listApprovals: { action: "approval.list", allowed: [A] },
};

function requestFor(apiUrl: string, trigger: HttpTriggerInfo): { url: string; method: string } {
  const route = trigger.route.replace(/\{([^}:]+)(:[^}]*)?\}/g, (_m, name: string) => (name === "labelId" || name === "change" ? "1" : `some-${name}`));
  return { url: `${apiUrl}/${route}`, method: trigger.methods[0] ?? "GET" };
}

describe("route × role matrix (entra mode, local issuer tokens)", () => {
  let stack: TestStack;
  let routes: HttpTriggerInfo[];
  let tokens: Record<CallerName, string>;

  beforeAll(async () => {
    stack = await startTestStack({ auth: "entra", appSettings: { SUBMISSION_CONTAINERS: `${APP_CONTAINERS.drops},${HTTP_CONTAINER}` } });
    routes = AppHost.load(path.join(DIST_DIR, "src", "index.js"), { durableClientData: () => ({}), log: () => undefined }).httpTriggers();
    const issuer = stack.issuer!;
    tokens = {
      "Sign.Submit": issuer.issue({ user: "sam", roles: [S] }),
      "Sign.Publish": issuer.issue({ user: "pat", roles: [P] }),
      "Sign.Approve": issuer.issue({ user: "abe", roles: [A] }),
      "Sign.Operate": issuer.issue({ user: "olga", roles: [O] }),
      "no role": issuer.issue({ user: "nora", roles: [] }),
      "unrelated role": issuer.issue({ app: "reporting", roles: ["Reports.Read"] }),
    };
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("every registered HTTP function has a row in the expected matrix, and every row a function", () => {
    expect(routes.map((t) => t.functionName).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it("admits exactly the expected roles on every route; refuses the rest with 403 naming the action and its roles", async () => {
    const seen: Record<string, Record<CallerName, number>> = {};
    const lines: string[] = [];
    for (const t of routes) {
      const expected = EXPECTED[t.functionName];
      const { url, method } = requestFor(stack.apiUrl, t);
      seen[t.functionName] = {} as Record<CallerName, number>;
      for (const caller of CALLERS) {
        const body = method === "GET" ? undefined : "{}";
        const response = await fetch(url, {
          method,
          headers: { authorization: `Bearer ${tokens[caller]}`, ...(body ? { "content-type": "application/json" } : {}) },
          body,
          redirect: "manual",
        });
        const text = await response.text();
        seen[t.functionName][caller] = response.status;
        if (expected.allowed.includes(caller)) {
          expect({ fn: t.functionName, caller, refused: response.status === 401 || response.status === 403 }).toEqual({ fn: t.functionName, caller, refused: false });
        } else {
          expect({ fn: t.functionName, caller, status: response.status }).toEqual({ fn: t.functionName, caller, status: 403 });
          const refusal = JSON.parse(text) as { action: string; allowedRoles: string[]; error: string };
          expect(refusal.action).toBe(expected.action);
          expect(refusal.allowedRoles.sort()).toEqual(expected.allowed.filter((c) => c.startsWith("Sign.")).sort());
          expect(refusal.error).toContain(`may not do ${expected.action}`);
        }
      }
      const allowed = CALLERS.filter((c) => seen[t.functionName][c] !== 403).length;
      lines.push(
        `${`${method} /api/${t.route}`.padEnd(62)} ${expected.action.padEnd(19)} allowed ${allowed} refused ${CALLERS.length - allowed}  ` +
          CALLERS.map((c) => `${c}=${seen[t.functionName][c]}`).join(" "),
      );
    }
    // The matrix, for the record (status per caller: 403 refused by the gate, anything else admitted).
    console.log(`route × role matrix (${routes.length} routes × ${CALLERS.length} callers)\n${lines.join("\n")}`);
  });

  it("the gate refuses before the handler: a refused POST of a real package starts nothing, the same POST by a submitter does", async () => {
    const pkg = samplePackage({ folder: "e2e-matrix" });
    const container = stack.blobService.getContainerClient(HTTP_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
    const post = (caller: CallerName) =>
      fetch(`${stack.apiUrl}/submissions`, {
        method: "POST",
        headers: { authorization: `Bearer ${tokens[caller]}`, "content-type": "application/json" },
        body: JSON.stringify({ package: `${HTTP_CONTAINER}/${pkg.fileName}` }),
      });
    const listed = async () => {
      const list = await fetch(`${stack.apiUrl}/submissions`, { headers: { authorization: `Bearer ${tokens["Sign.Operate"]}` } });
      expect(list.status).toBe(200);
      return (JSON.parse(await list.text()) as { items: unknown[] }).items.length;
    };
    for (const caller of CALLERS.filter((c) => c !== "Sign.Submit")) {
      expect({ caller, status: (await post(caller)).status }).toEqual({ caller, status: 403 });
    }
    expect(await listed()).toBe(0);
    expect((await post("Sign.Submit")).status).toBe(202);
    expect(await listed()).toBe(1);
  });
});
