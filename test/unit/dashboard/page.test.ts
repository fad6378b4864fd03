/**
 * The page tells each signed-in user what the server will let them do (issue 32): a line from the role
 * table, and the allowed actions rendered for the script, which shows no button for any other.
 */
import { dashboardHtml, mayLine } from "../../../src/dashboard/page";
import { DASHBOARD_SCRIPT } from "../../../src/dashboard/script";
import type { Caller, SignRole } from "../../../src/domain/principal";
import { KEY_HOLDER } from "../../../src/identity/caller";
import { ACTIONS } from "../../../src/domain/authorization";

const user = (...signRoles: SignRole[]): Caller => ({ identityProvider: "aad", objectId: "oid-1", name: "alice", isApplication: false, roles: [...signRoles], signRoles });
const mayAttribute = (html: string) => /data-may="([^"]*)"/.exec(html)?.[1].split(" ").filter(Boolean);

describe("what the page says a caller may do", () => {
  test("a submitter: own runs, no labels, no audit, no approvals", () => {
    const html = dashboardHtml("n0nce", user("Sign.Submit"));
    expect(mayAttribute(html)).toEqual(["upload.create", "submission.start", "submission.resume", "submission.status", "submission.list", "submission.files", "submission.cancel", "dashboard.view", "rejectedDrop.read"]);
    expect(mayLine(user("Sign.Submit"))).toBe(
      "You may: ask for upload URLs (your own); start and retry signing (your own); resume a submission by its ids (your own); see run status (your own); list runs (your own); download signed packages and manifests (your own); cancel runs (your own); see rejected drops (your own).",
    );
    expect(html).toContain('<p id="may" class="notice">You may: ask for upload URLs (your own);');
  });

  test("an operator: everyone's, read-only but cancel; no start, no labels changed", () => {
    const allowed = mayAttribute(dashboardHtml("n0nce", user("Sign.Operate")))!;
    expect(allowed).toEqual(expect.arrayContaining(["submission.cancel", "submission.list", "audit.read", "rejectedDrop.read"]));
    expect(allowed).not.toContain("submission.start");
    expect(allowed).not.toContain("label.cancel");
    expect(mayLine(user("Sign.Operate"))).toContain("cancel runs (everyone's)");
  });

  test("an approver decides others' labels; an unrelated role may do nothing", () => {
    expect(mayLine(user("Sign.Approve"))).toBe("You may: approve or reject labels (others'); see labels waiting for approval (everyone's).");
    expect(mayLine({ ...user(), roles: ["Something.Else"] })).toBe("You may do nothing here beyond opening this page.");
  });

  test("the key holder holds every role", () => {
    expect(mayAttribute(dashboardHtml("n0nce", KEY_HOLDER))).toEqual([...ACTIONS]);
  });

  test("the script shows Cancel, Retry and Cancel label only for the actions the server allowed", () => {
    expect(DASHBOARD_SCRIPT).toContain('!finished && may("submission.cancel")');
    expect(DASHBOARD_SCRIPT).toContain('view.package && may("submission.start")');
    expect(DASHBOARD_SCRIPT).toContain('cancellable && may("label.cancel")');
  });
});
