/**
 * The dashboard's HTML: a static shell (filters, counts, table, run view) with an inline style and
 * the inline script, both allowed by a per-response CSP nonce. No data, no key, no SAS in the HTML:
 * the script fills it from the JSON API (the same view model as GET /api/submissions/{id}). What the
 * server knows of the caller is rendered in: the auth mode (data-auth, which the script obeys
 * instead of guessing), who is signed in and a sign-out link, and the sign-in link the script shows
 * when the session has ended.
 */
import { ACTIONS, type Action, authorize, type Scope } from "../domain/authorization";
import { SIGN_ROLES, type AuthMode, type Caller } from "../domain/principal";
import { DASHBOARD_SCRIPT } from "./script";

const STYLE = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f8fa; }
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px; }
h1 { font-size: 1.4rem; margin: 0 0 12px; }
form#filters { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: end; background: #fff; padding: 12px; border: 1px solid #d0d7de; border-radius: 6px; }
label { display: flex; flex-direction: column; font-size: .8rem; color: #57606a; gap: 2px; }
input, select, button { font: inherit; padding: 4px 6px; }
button { cursor: pointer; border: 1px solid #8c959f; border-radius: 6px; background: #fff; }
button.action { border-color: #cf222e; color: #cf222e; }
button.download { border-color: #0969da; color: #0969da; }
#counts { display: flex; gap: 10px; margin: 12px 0; flex-wrap: wrap; }
.count { background: #fff; border: 1px solid #d0d7de; border-radius: 12px; padding: 2px 10px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid #d0d7de; padding: 5px 8px; text-align: left; font-size: .9rem; vertical-align: top; }
td.empty { color: #57606a; font-style: italic; }
.badge { border-radius: 10px; padding: 1px 8px; font-size: .8rem; background: #ddf4ff; }
.badge.succeeded { background: #dafbe1; } .badge.failed { background: #ffebe9; } .badge.rejected { background: #fff1e5; } .badge.cancelled { background: #eaeef2; }
#who { display: flex; gap: 12px; align-items: baseline; } #sign-in { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
.notice { min-height: 1.2em; font-size: .85rem; color: #57606a; margin: 8px 0; } .notice.error { color: #cf222e; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 6px 16px; background: #fff; padding: 12px; border: 1px solid #d0d7de; border-radius: 6px; }
.fact dt { font-size: .75rem; color: #57606a; } .fact dd { margin: 0; word-break: break-all; }
.actions { display: flex; gap: 8px; margin: 12px 0; flex-wrap: wrap; }
td.gantt, th.gantt { width: 45%; } .bar { height: 10px; background: #0969da; border-radius: 3px; }
#approval-view { margin: 16px 0; } .approval { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; margin-bottom: 8px; } .approval textarea { width: 100%; min-height: 3em; } #audit-view { margin-top: 24px; } #audit-view h2 { font-size: 1.1rem; } form#audit-filters { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: end; background: #fff; padding: 12px; border: 1px solid #d0d7de; border-radius: 6px; margin-bottom: 8px; }
.outcome.refused { color: #9a6700; } .outcome.failed { color: #cf222e; }
pre { background: #fff; border: 1px solid #d0d7de; padding: 8px; white-space: pre-wrap; max-height: 320px; overflow: auto; }
`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Who the page is shown to, said plainly: on function keys nobody is told apart. */
export function accessLine(caller: Caller): string {
  if (caller.identityProvider === "functionKey") {
    return `Function keys only: whoever holds the key holds every role (${SIGN_ROLES.join(", ")}), and calls are not told apart.`;
  }
  const who = caller.name ?? caller.objectId;
  return `Signed in as ${who}${caller.isApplication ? " (an application)" : ""}, roles: ${caller.signRoles.join(", ")}.`;
}

/** What each action is called on the page (the role table's names are for code and the audit trail). */
const ACTION_WORDS: Record<Action, string> = {
  "upload.create": "ask for upload URLs",
  "submission.start": "start and retry signing",
  "submission.resume": "resume a submission by its ids",
  "submission.status": "see run status",
  "submission.list": "list runs",
  "submission.files": "download signed packages and manifests",
  "submission.cancel": "cancel runs",
  "label.create": "publish (create labels)",
  "label.list": "see labels",
  "label.change": "change labels",
  "label.cancel": "cancel labels",
  "label.changeStatus": "follow label changes",
  "dashboard.view": "open this page",
  "rejectedDrop.read": "see rejected drops",
  "audit.read": "read the audit trail",
  "approval.decide": "approve or reject labels",
  "approval.list": "see labels waiting for approval",
};
const SCOPE_WORDS: Record<Scope, string> = { own: "your own", any: "everyone's", others: "others'" };

/** The actions the caller's roles allow, each with its scope (the server decides each call anyway). */
export function allowedActions(caller: Caller): { action: Action; scope: Scope }[] {
  return ACTIONS.flatMap((action) => {
    const decision = authorize(caller.signRoles, action);
    return decision.allowed ? [{ action, scope: decision.scope }] : [];
  });
}

/** "You may: …", said from the role table, so the page tells each user what the server will let them do. */
export function mayLine(caller: Caller): string {
  const allowed = allowedActions(caller).filter(({ action }) => action !== "dashboard.view");
  if (allowed.length === 0) return "You may do nothing here beyond opening this page.";
  return `You may: ${allowed.map(({ action, scope }) => `${ACTION_WORDS[action]} (${SCOPE_WORDS[scope]})`).join("; ")}.`;
}

/** Keys mode: the caller is the key holder; otherwise App Service Authentication's principal. */
export function authModeOf(caller: Caller | undefined): AuthMode {
  return caller === undefined || caller.identityProvider === "functionKey" ? "keys" : "entra";
}

/** Where a browser signs in to come back to this page (App Service Authentication's endpoint). */
export function signInHref(pagePath: string): string {
  return `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(pagePath)}`;
}

/** Whether the page offers the audit panel: only to those who may read the trail (Sign.Operate; every key holder). */
export function showsAuditPanel(caller: Caller | undefined): boolean {
  return caller !== undefined && authorize(caller.signRoles, "audit.read").allowed;
}

/** Whether the page offers the approval panel (issue 34): to those who decide labels waiting for approval (Sign.Approve; every key holder). */
export function showsApprovalPanel(caller: Caller | undefined): boolean {
  return caller !== undefined && authorize(caller.signRoles, "approval.list").allowed;
}

/** Whether the caller may list runs (an approver alone may not: the page then shows only its panel). */
function listsRuns(caller: Caller | undefined): boolean {
  return caller === undefined || authorize(caller.signRoles, "submission.list").allowed;
}

/** The approval panel's shell; the script fills it from GET /api/approvals. */
const APPROVAL_PANEL = `<section id="approval-view">
<h2>Waiting for approval</h2>
<div id="approvals"></div>
</section>`;

/** The audit panel's shell (issue 33); the script fills it from GET /api/audit. */
const AUDIT_PANEL = `<section id="audit-view">
<h2>Audit trail</h2>
<form id="audit-filters">
  <label>Submission<input id="a-submission" placeholder="drv-…"></label>
  <label>Principal (object id)<input id="a-principal"></label>
  <label>Action<input id="a-action" placeholder="submission.start"></label>
  <label>From<input id="a-from" type="datetime-local"></label>
  <label>To<input id="a-to" type="datetime-local"></label>
  <button type="submit">Show</button>
</form>
<table><thead><tr><th>Time</th><th>Principal</th><th>Action</th><th>Target</th><th>Outcome</th></tr></thead>
<tbody id="audit-rows"></tbody></table>
<button type="button" id="audit-more" hidden>More</button>
</section>`;

export function dashboardHtml(nonce: string, caller?: Caller, pagePath = "/api/dashboard"): string {
  const auth = authModeOf(caller);
  const may = caller ? `<p id="may" class="notice">${escapeHtml(mayLine(caller))}</p>` : "";
  const who = !caller
    ? ""
    : auth === "keys"
      ? `<p id="access" class="notice">${escapeHtml(accessLine(caller))}</p>${may}`
      : `<div id="who"><p id="access" class="notice">${escapeHtml(accessLine(caller))}</p><a id="sign-out" href="/.auth/logout">Sign out</a></div>${may}
<p id="sign-in" hidden>Your sign-in has ended. <a id="sign-in-link" href="${escapeHtml(signInHref(pagePath))}">Sign in</a></p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Driver signing runs</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body data-auth="${auth}" data-list="${listsRuns(caller) ? "1" : "0"}" data-may="${caller ? allowedActions(caller).map(({ action }) => action).join(" ") : ""}">
<h1>Driver signing runs</h1>
${who}
<div id="notice" class="notice" role="status"></div>
<div id="action-result" class="notice" role="status"></div>
${showsApprovalPanel(caller) ? APPROVAL_PANEL : ""}
<section id="list-view">
<form id="filters">
  <label>Status<select id="f-status">
    <option value="">all</option><option value="Running,Pending">running</option><option value="Completed">completed (signed or rejected)</option>
    <option value="Failed">failed</option><option value="Terminated">cancelled</option></select></label>
  <label>Package (container or container/prefix)<input id="f-package" placeholder="driver-drops/contoso-"></label>
  <label>Created from<input id="f-from" type="datetime-local"></label>
  <label>Created to<input id="f-to" type="datetime-local"></label>
  <label>Id prefix<input id="f-id" placeholder="drv-"></label>
  <label><span>Auto-refresh (10 s)</span><input id="f-auto" type="checkbox" checked></label>
  <button type="submit">Apply</button>
</form>
<div id="counts"></div>
<table><thead><tr><th>Id</th><th>Package</th><th>Stage</th><th>Runtime status</th><th>Microsoft step</th><th>Created</th><th>Elapsed</th></tr></thead>
<tbody id="runs"></tbody></table>
</section>
<section id="run-view" hidden><div id="run"></div></section>
${showsAuditPanel(caller) ? AUDIT_PANEL : ""}
<script nonce="${nonce}">${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
}

/** Nothing may load from anywhere but this origin; scripts and styles only with this response's nonce. */
export function dashboardHeaders(nonce: string): Record<string, string> {
  return {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy":
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; ` +
      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
  };
}
