/**
 * The dashboard's one script, served inline under a CSP nonce (no build step, no external asset).
 * Plain browser JavaScript kept in a string. It follows the auth mode the server rendered into the
 * page (body data-auth), never a guess: on function keys it reads the key from `?code=` once, keeps
 * it in sessionStorage, removes it from the address bar, and calls the same JSON API as the CLI
 * with the `x-functions-key` header; under Entra ID it holds no credential at all: its same-origin
 * calls ride the sign-in session cookie, and a 401 shows the sign-in link. Every call carries the
 * page's header (../identity/crossSite.ts), which a form on another site cannot send. Everything is
 * rendered with textContent (no HTML from data), and nothing secret (key, token, SAS) is ever
 * written into the DOM.
 */
import { PAGE_REQUEST_HEADER, PAGE_REQUEST_VALUE } from "../identity/crossSite";

export const DASHBOARD_SCRIPT = String.raw`
"use strict";
(function () {
  var AUTH = document.body.getAttribute("data-auth") === "entra" ? "entra" : "keys";
  // The actions the server said this caller's roles allow: a button for any other is not shown
  // (the server refuses it anyway; this only spares the user a refusal).
  var MAY = (document.body.getAttribute("data-may") || "").split(" ");
  function may(action) { return MAY.indexOf(action) >= 0; }
  var KEY_SLOT = "driverSigningKey";
  var params = new URLSearchParams(location.search);
  var key = null;
  if (AUTH === "keys") {
    key = params.get("code");
    if (key) sessionStorage.setItem(KEY_SLOT, key); else key = sessionStorage.getItem(KEY_SLOT);
  } else {
    // Signed in: no key is kept anywhere (one left by a keys-mode visit in this tab is dropped).
    sessionStorage.removeItem(KEY_SLOT);
  }
  // The key leaves the address bar (history, bookmarks, screenshots) at once.
  var initialId = params.get("id");
  history.replaceState(null, "", location.pathname + (initialId ? "#run=" + encodeURIComponent(initialId) : location.hash));

  var api = location.pathname.replace(/\/dashboard\/?$/, "");
  var refreshTimer = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var name in attrs) {
      if (attrs[name] === undefined || attrs[name] === null || attrs[name] === false) continue;
      if (name === "text") node.textContent = String(attrs[name]);
      else if (name === "onclick") node.addEventListener("click", attrs[name]);
      else node.setAttribute(name, attrs[name] === true ? "" : String(attrs[name]));
    }
    (children || []).forEach(function (child) { if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child); });
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function show(id, text, isError) { var bar = $(id); bar.textContent = text || ""; bar.className = isError ? "notice error" : "notice"; }
  // Refresh results ("Updated …") and what an action did are kept apart, so a refresh right after an
  // action does not wipe its answer.
  function say(text, isError) { show("notice", text, isError); }
  function tell(text, isError) { show("action-result", text, isError); }

  // The session has ended (expired, signed out elsewhere): offer the sign-in, stop refreshing.
  function signedOut() {
    var box = $("sign-in");
    if (box) box.hidden = false;
    if (refreshTimer) { clearInterval(refreshTimer); refreshTimer = null; }
  }
  function call(method, path, body) {
    if (AUTH === "keys" && !key) return Promise.reject(new Error("no function key: open this page with ?code=<function key>"));
    var headers = {};
    headers[${JSON.stringify(PAGE_REQUEST_HEADER)}] = ${JSON.stringify(PAGE_REQUEST_VALUE)};
    if (AUTH === "keys") headers["x-functions-key"] = key;
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["content-type"] = "application/json"; }
    return fetch(api + path, init).then(function (response) {
      return response.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        if (response.status === 401 && AUTH === "entra") { signedOut(); throw new Error(method + " " + path.split("?")[0] + ": HTTP 401 — not signed in (any more): use the Sign in link"); }
        if (!response.ok) throw new Error(method + " " + path.split("?")[0] + ": HTTP " + response.status + (json && json.error ? " — " + json.error : ""));
        return json;
      });
    });
  }

  function when(iso) { return iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "–"; }
  function seconds(value) {
    if (value === undefined || value === null) return "–";
    var s = Math.max(0, Math.round(value)); var h = Math.floor(s / 3600); var m = Math.floor((s % 3600) / 60);
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
  }
  function category(view) {
    if (view.stage === "rejected") return "rejected";
    if (view.stage === "terminated") return "cancelled";
    if (view.stage === "succeeded" && view.runtimeStatus === "Completed") return "succeeded";
    if (view.stage === "failed" || view.runtimeStatus === "Failed") return "failed";
    return "running";
  }
  function packageName(view) { return view.package ? view.package.container + "/" + view.package.blobName : "–"; }
  function portalUrl(productId, submissionId) {
    return "https://partner.microsoft.com/en-us/dashboard/hardware/driver/" + encodeURIComponent(productId) + "/submission/" + encodeURIComponent(submissionId);
  }

  // ---------------------------------------------------------------- list
  var listed = [];
  var moreAvailable = false;
  function listQuery() {
    var q = new URLSearchParams({ top: "100" });
    if ($("f-status").value) q.set("status", $("f-status").value);
    if ($("f-package").value.trim()) q.set("package", $("f-package").value.trim());
    if ($("f-from").value) q.set("createdFrom", new Date($("f-from").value).toISOString());
    if ($("f-to").value) q.set("createdTo", new Date($("f-to").value).toISOString());
    return q;
  }
  function loadList() {
    var q = listQuery(); var items = []; var pages = 0;
    function page(token) {
      if (token) q.set("continuationToken", token); else q.delete("continuationToken");
      return call("GET", "/submissions?" + q.toString()).then(function (result) {
        items = items.concat(result.items || []); pages++;
        if (result.continuationToken && pages < 10) return page(result.continuationToken);
        moreAvailable = Boolean(result.continuationToken);
      });
    }
    return page(undefined).then(function () { listed = items; renderList(); say("Updated " + when(new Date().toISOString())); }, function (error) { say(error.message, true); });
  }
  function renderList() {
    var prefix = $("f-id").value.trim();
    var shown = listed.filter(function (view) { return !prefix || view.id.indexOf(prefix) === 0; });
    var counts = { running: 0, succeeded: 0, failed: 0, rejected: 0, cancelled: 0 };
    shown.forEach(function (view) { counts[category(view)]++; });
    var countBox = clear($("counts"));
    Object.keys(counts).forEach(function (name) {
      countBox.appendChild(el("span", { class: "count " + name, "data-count": name }, [el("b", { text: counts[name] }), " " + name]));
    });
    countBox.appendChild(el("span", { class: "count total", "data-count": "total" }, [el("b", { text: shown.length }), " total" + (moreAvailable ? " (more: narrow the filters)" : "")]));
    var body = clear($("runs"));
    shown.forEach(function (view) {
      body.appendChild(el("tr", { "data-id": view.id, class: "run " + category(view) }, [
        el("td", {}, [el("a", { href: "#run=" + encodeURIComponent(view.id), text: view.id })]),
        el("td", { text: packageName(view) }),
        el("td", {}, [el("span", { class: "badge " + category(view), text: view.stage })].concat(view.signing === "preproduction" ? [" ", el("span", { class: "badge preprod", "data-signing": "preproduction", text: "preprod" })] : [])),
        el("td", { text: view.runtimeStatus }),
        el("td", { text: view.step ? (view.step.name + (view.step.index !== null ? " (" + view.step.index + "/" + view.step.count + ")" : "")) : "–" }),
        el("td", { text: when(view.createdTime) }),
        el("td", { text: seconds(view.elapsedSeconds) }),
      ]));
    });
    if (shown.length === 0) body.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "empty", text: "No runs match these filters." })]));
  }

  // ---------------------------------------------------------------- one run
  function spans(entries, endIso, label) {
    // Each entry lasts until the next one (the last until the run ended, or now).
    return entries.map(function (entry, index) {
      var start = Date.parse(entry.at);
      var next = entries[index + 1];
      var end = next ? Date.parse(next.at) : Date.parse(endIso);
      return { label: label(entry), at: entry.at, start: start, seconds: Math.max(0, (end - start) / 1000), last: !next };
    });
  }
  function timeline(title, testid, rows, running) {
    var table = el("table", { class: "timeline", "data-timeline": testid }, [el("thead", {}, [el("tr", {}, [el("th", { text: title }), el("th", { text: "first seen" }), el("th", { text: "duration" }), el("th", { class: "gantt", text: "" })])])]);
    var body = el("tbody"); table.appendChild(body);
    if (rows.length === 0) { body.appendChild(el("tr", {}, [el("td", { colspan: "4", class: "empty", text: "none yet" })])); return table; }
    var from = rows[0].start; var to = Math.max.apply(null, rows.map(function (r) { return r.start + r.seconds * 1000; }).concat([from + 1000]));
    rows.forEach(function (row) {
      var bar = el("div", { class: "bar" });
      bar.style.marginLeft = (100 * (row.start - from) / (to - from)).toFixed(2) + "%";
      bar.style.width = Math.max(0.5, 100 * row.seconds * 1000 / (to - from)).toFixed(2) + "%";
      body.appendChild(el("tr", { "data-entry": row.label }, [el("td", { text: row.label }), el("td", { text: when(row.at) }), el("td", { text: seconds(row.seconds) + (row.last && running ? " …" : "") }), el("td", { class: "gantt" }, [bar])]));
    });
    return table;
  }
  function fact(name, value, node) { return el("div", { class: "fact" }, [el("dt", { text: name }), el("dd", { "data-fact": name }, [node || String(value === undefined || value === null ? "–" : value)])]); }

  function download(id, route, label) {
    return el("button", { type: "button", class: "download", "data-download": route, text: label, onclick: function () {
      // The API answers with a short read-only link to the blob; the download itself then goes
      // straight to storage (a navigation: the key header is not sent there, the link is never in the DOM).
      call("GET", "/submissions/" + encodeURIComponent(id) + "/" + route + "?as=json").then(function (link) { location.assign(link.url); }, function (error) { say(error.message, true); });
    } });
  }
  function act(label, question, run) {
    return el("button", { type: "button", class: "action", "data-action": label.toLowerCase().replace(/ /g, "-"), text: label, onclick: function () {
      if (!window.confirm(question)) return;
      // Cancel and retry take effect asynchronously: look again now and shortly after.
      run().then(function (message) { tell(message); showRoute(); setTimeout(showRoute, 1500); }, function (error) { tell(error.message, true); });
    } });
  }
  // A label change (cancel, PATCH) answers 202 and runs in the background: follow its status location
  // to the end. Only the path is used, against our own API: the key never goes anywhere else.
  function followChange(started, what) {
    if (!started || !started.statusUrl) return Promise.resolve(what + ": " + (started && started.alreadyRequested ? "already requested" : "done"));
    var target = new URL(started.statusUrl, location.href);
    if (target.pathname.indexOf(api + "/") !== 0) return Promise.reject(new Error("unexpected status location " + target.pathname));
    var path = target.pathname.slice(api.length);
    return new Promise(function (resolve, reject) {
      function poll() {
        call("GET", path).then(function (status) {
          if (status.state === "running") { tell(what + ": running…"); setTimeout(poll, 1000); return; }
          resolve(what + ": " + status.state + (status.reason ? " — " + status.reason : ""));
        }, reject);
      }
      poll();
    });
  }
  function renderLabel(label, runId) {
    var box = el("section", { class: "label", "data-section": "label" }, [el("h3", { text: "Shipping label" })]);
    var cancellable = label.labelId && !label.cancelRequested && (label.phase === "awaitingMicrosoftApproval" || label.phase === "publishing");
    if (cancellable && may("label.cancel")) box.appendChild(el("div", { class: "actions" }, [act("Cancel label", "Cancel shipping label " + label.labelId + " at Microsoft? Only possible in Microsoft Approval or the gradual rollout.", function () {
      return call("POST", "/submissions/" + encodeURIComponent(runId) + "/labels/" + encodeURIComponent(label.labelId) + "/cancel").then(function (started) {
        return followChange(started, "Cancel of shipping label " + label.labelId);
      });
    })]));
    var list = el("dl");
    Object.keys(label).forEach(function (name) {
      var value = label[name];
      if (Array.isArray(value) && value.length && typeof value[0] === "object") {
        list.appendChild(fact(name, "", el("ol", {}, value.map(function (entry) { return el("li", { text: Object.keys(entry).map(function (k) { return k + ": " + (typeof entry[k] === "object" ? JSON.stringify(entry[k]) : entry[k]); }).join(", ") }); }))));
      } else list.appendChild(fact(name, typeof value === "object" && value !== null ? JSON.stringify(value) : value));
    });
    box.appendChild(list);
    return box;
  }
  function renderRun(view) {
    var main = clear($("run"));
    var finished = ["Completed", "Failed", "Terminated", "Canceled"].indexOf(view.runtimeStatus) >= 0;
    var end = finished ? (view.lastUpdatedTime || new Date().toISOString()) : new Date().toISOString();
    main.appendChild(el("p", {}, [el("a", { href: "#", text: "← all runs" })]));
    main.appendChild(el("h2", {}, ["Run ", el("code", { "data-fact": "id", text: view.id }), " ", el("span", { class: "badge " + category(view), "data-fact": "stage", text: view.stage })]));
    var facts = el("dl", { class: "facts" }, [
      fact("package", packageName(view)),
      fact("runtimeStatus", view.runtimeStatus),
      fact("progress", view.progress),
      fact("productId", view.productId),
      fact("submissionId", view.submissionId),
      fact("Microsoft step", view.step ? view.step.name + (view.step.index !== null ? " (" + view.step.index + " of " + view.step.count + ")" : "") + (view.state ? ", " + view.state : "") : "–"),
      fact("polls", view.pollCount),
      fact("elapsed", seconds(view.elapsedSeconds)),
      fact("created", when(view.createdTime)),
      fact("updated", when(view.lastUpdatedTime)),
    ]);
    if (view.productId && view.submissionId) facts.appendChild(fact("Partner Center", "", el("a", { href: portalUrl(view.productId, view.submissionId), target: "_blank", rel: "noopener noreferrer", "data-link": "partner-center", text: "submission " + view.submissionId + " of product " + view.productId })));
    // Preproduction signing (issue 40): its package id and Microsoft's signingStatus instead of product/submission.
    if (view.signing === "preproduction") {
      facts.appendChild(fact("signing", "preproduction"));
      facts.appendChild(fact("preprod package", view.preprodPackageId));
      facts.appendChild(fact("signingStatus", view.signingStatus));
    }
    if (view.reason) facts.appendChild(fact("reason", view.reason));
    if (view.error) facts.appendChild(fact("error", view.error));
    if (view.failureKind) facts.appendChild(fact("failureKind", view.failureKind));
    if (view.manifest) facts.appendChild(fact("manifest", view.manifest.container + "/" + view.manifest.blobName));
    main.appendChild(facts);

    var actions = el("div", { class: "actions" });
    if (view.signedPackage) actions.appendChild(download(view.id, "signed-package", "Download signed package"));
    if (view.stage === "succeeded" && view.signing !== "preproduction") actions.appendChild(download(view.id, "driver-metadata", "Download driver metadata"));
    if (view.manifest) actions.appendChild(download(view.id, "manifest", "Download manifest"));
    if (view.errorReportBlob) actions.appendChild(download(view.id, "error-report", "Download error report"));
    if (!finished && may("submission.cancel")) actions.appendChild(act("Cancel", "Cancel run " + view.id + "? Microsoft keeps processing a committed submission; only our waiting stops.", function () {
      return call("POST", "/submissions/" + encodeURIComponent(view.id) + "/cancel").then(function () { return "Cancel requested for " + view.id; });
    }));
    if (view.runtimeStatus === "Failed" || view.runtimeStatus === "Terminated") {
      if (view.package && may("submission.start")) actions.appendChild(act("Retry", "Retry " + packageName(view) + "? The same product is resumed (or gets a new submission if Microsoft failed it); no second product is created.", function () {
        return call("POST", "/submissions", { package: packageName(view) }).then(function (answer) { return "Retry started for " + answer.id; });
      }));
    }
    main.appendChild(actions);

    main.appendChild(el("h3", { text: "Our stages" }));
    main.appendChild(timeline("stage", "stages", spans(view.stageHistory || [], end, function (e) { return e.stage; }), !finished));
    main.appendChild(el("h3", { text: "Microsoft's steps" }));
    main.appendChild(timeline("step", "steps", spans(view.stepHistory || [], end, function (e) { return e.step + (e.state ? " (" + e.state + ")" : ""); }), !finished));
    if (view.messages && view.messages.length) {
      main.appendChild(el("h3", { text: "Microsoft's messages" }));
      main.appendChild(el("ul", { "data-section": "messages" }, view.messages.map(function (m) { return el("li", { text: m }); })));
    }
    if (view.errorReport) {
      main.appendChild(el("h3", { text: "Error report" }));
      main.appendChild(el("pre", { "data-section": "error-report", text: view.errorReport }));
    }
    var checks = renderChecks(view);
    if (checks) main.appendChild(checks);
    if (view.label) main.appendChild(renderLabel(view.label, view.id));
  }
  // What the service checked of the package (issue 37: preflight before Microsoft; issue 36: Microsoft's signed
  // package after) and the label a dry-run policy would produce, as the status has them.
  function renderChecks(view) {
    var preflight = view.preflight, verification = view.signedPackageVerification, preview = view.labelPreview;
    if (!preflight && !verification && !preview) return null;
    var box = el("section", { class: "checks", "data-section": "checks" }, [el("h3", { text: "Package checks" })]);
    var list = el("dl");
    if (preflight) {
      list.appendChild(fact("preflight", preflight.verdict));
      if (preflight.findings && preflight.findings.length) list.appendChild(fact("findings", "", el("ol", { "data-list": "findings" }, preflight.findings.map(function (f) {
        return el("li", { text: f.code + " (" + f.severity + "): " + f.message + (f.file ? " [" + f.file + (f.line ? ":" + f.line : "") + "]" : "") });
      }).concat(preflight.moreFindings ? [el("li", { text: "… " + preflight.moreFindings + " more in the manifest" })] : []))));
      if (preflight.hardwareIds && preflight.hardwareIds.length) list.appendChild(fact("hardware ids", "", el("ol", { "data-list": "hardware-ids" }, preflight.hardwareIds.map(function (h) { return el("li", { text: h }); }).concat(preflight.moreHardwareIds ? [el("li", { text: "… " + preflight.moreHardwareIds + " more" })] : []))));
    }
    if (preview) {
      list.appendChild(fact("label preview", preview.destination + ": " + preview.name + " — " + preview.hardwareIdCount + " hardware id(s), " + (preview.operatingSystemCodes || []).join(", ")));
      if (preview.problems && preview.problems.length) list.appendChild(fact("label problems", "", el("ul", {}, preview.problems.map(function (p) { return el("li", { text: p }); }))));
    }
    if (verification) {
      list.appendChild(fact("signed package", verification.verdict + (verification.reason ? " — " + verification.reason : "") + (verification.verdict === "verified" ? " (" + verification.catalogCount + " catalog(s), " + verification.infCount + " INF(s))" : "")));
      if (verification.failures && verification.failures.length) list.appendChild(fact("signed package failures", "", el("ol", {}, verification.failures.map(function (f) { return el("li", { text: f.file + " (" + f.check + "): " + f.reason }); }))));
    }
    box.appendChild(list);
    return box;
  }

  // ---------------------------------------------------------------- approvals (Sign.Approve)
  // Labels waiting for a second person (issue 34): the exact label, who asked, until when; Approve /
  // Reject with a comment for those who may decide (the server refuses the requester anyway).
  function approvalFacts(item) {
    var label = item.label || {}; var approval = label.approval || {};
    var list = el("dl");
    var who = item.requester ? (item.requester.name ? item.requester.name + " (" + item.requester.objectId + ")" : item.requester.objectId) : "unknown (no requester recorded)";
    [["destination", label.destination], ["name", label.name], ["hardware ids", label.hardwareIdCount], ["CHIDs", label.chidCount],
     ["audiences", (label.audiences || []).join(", ") || "none"], ["goLiveDate", approval.goLiveDate], ["floor", approval.floor], ["ceiling", approval.ceiling],
     ["receiver", approval.receiverPublisherId], ["visibleToAccounts", (approval.visibleToAccounts || []).join(", ") || undefined],
     ["requester", who], ["requested", when(approval.requestedAt)], ["deadline", when(item.deadline)]].forEach(function (pair) {
      if (pair[1] !== undefined && pair[1] !== null) list.appendChild(fact(pair[0], pair[1]));
    });
    if (label.hardwareIdSample && label.hardwareIdSample.length) list.appendChild(fact("hardware id sample", "", el("ol", {}, label.hardwareIdSample.map(function (h) { return el("li", { text: h }); }))));
    return list;
  }
  function renderApproval(item) {
    var box = el("div", { class: "approval", "data-label-run": item.labelRun }, [
      // The submission is linked only for callers the server lets open it (mayView); the label itself is all here.
      el("h3", {}, ["Label run ", el("code", { text: item.labelRun }), " of ", item.mayView ? el("a", { href: "#run=" + encodeURIComponent(item.id), "data-link": "run", text: item.id }) : el("code", { "data-approval": "run-id", text: item.id })]),
      approvalFacts(item),
    ]);
    if (!item.mayDecide) {
      box.appendChild(el("p", { class: "notice", "data-approval": "not-yours", text: "You asked for this label: another approver must decide." }));
      return box;
    }
    var comment = el("textarea", { "data-approval": "comment", placeholder: "Comment (required to reject)", maxlength: "1000" });
    function decide(decision) {
      return function () {
        if (!window.confirm((decision === "approve" ? "Approve" : "Reject") + " label run " + item.labelRun + "?")) return;
        call("POST", "/submissions/" + encodeURIComponent(item.id) + "/approvals", { labelRun: item.labelRun, decision: decision, comment: comment.value }).then(function () {
          tell((decision === "approve" ? "Approved " : "Rejected ") + item.labelRun);
          loadApprovals(); setTimeout(loadApprovals, 1500);
        }, function (error) { tell(error.message, true); });
      };
    }
    box.appendChild(comment);
    box.appendChild(el("div", { class: "actions" }, [
      el("button", { type: "button", class: "action", "data-action": "approve", text: "Approve", onclick: decide("approve") }),
      el("button", { type: "button", class: "action", "data-action": "reject", text: "Reject", onclick: decide("reject") }),
    ]));
    return box;
  }
  function loadApprovals() {
    if (!$("approval-view")) return Promise.resolve();
    return call("GET", "/approvals").then(function (answer) {
      var box = clear($("approvals"));
      (answer.items || []).forEach(function (item) { box.appendChild(renderApproval(item)); });
      if (!box.firstChild) box.appendChild(el("p", { class: "empty", "data-approval": "none", text: "No label is waiting for approval." }));
    }, function (error) { say(error.message, true); });
  }

  // ---------------------------------------------------------------- audit trail (operators only)
  // The panel is in the page only for callers who may read the trail (the server decides; the API checks again).
  var auditToken = null;
  function auditQuery() {
    var q = new URLSearchParams({ pageSize: "100" });
    [["a-submission", "submission"], ["a-principal", "principal"], ["a-action", "action"]].forEach(function (pair) {
      var value = $(pair[0]).value.trim();
      if (value) q.set(pair[1], value);
    });
    if ($("a-from").value) q.set("from", new Date($("a-from").value).toISOString());
    if ($("a-to").value) q.set("to", new Date($("a-to").value).toISOString());
    return q;
  }
  function auditTarget(target) {
    return Object.keys(target || {}).map(function (name) { return name + " " + target[name]; }).join(", ") || "–";
  }
  function loadAudit(more) {
    var q = auditQuery();
    if (more && auditToken) q.set("continuationToken", auditToken);
    return call("GET", "/audit?" + q.toString()).then(function (page) {
      var body = $("audit-rows");
      if (!more) clear(body);
      page.items.forEach(function (record) {
        var who = record.principal.name ? record.principal.name + " (" + record.principal.objectId + ")" : record.principal.objectId;
        var outcome = record.outcome.result + (record.outcome.refusal ? " (" + record.outcome.refusal + ")" : "") + (record.outcome.reason ? ": " + record.outcome.reason : "");
        body.appendChild(el("tr", { "data-audit-action": record.action }, [
          el("td", { text: when(record.time) }), el("td", { text: who }), el("td", { text: record.action }),
          el("td", { text: auditTarget(record.target) }), el("td", { class: "outcome " + record.outcome.result, text: outcome }),
        ]));
      });
      auditToken = page.continuationToken || null;
      // A page scans a fixed number of records, so a filtered one may be short or empty while more remain.
      $("audit-more").hidden = !auditToken;
      if (!body.firstChild && !auditToken) body.appendChild(el("tr", {}, [el("td", { class: "empty", colspan: "5", text: "No records." })]));
    }, function (error) { say(error.message, true); });
  }
  if ($("audit-view")) {
    $("audit-filters").addEventListener("submit", function (event) { event.preventDefault(); loadAudit(false); });
    $("audit-more").addEventListener("click", function () { loadAudit(true); });
    loadAudit(false);
  }

  // ---------------------------------------------------------------- routing and refresh
  function currentRunId() { var m = /^#run=(.+)$/.exec(location.hash); return m ? decodeURIComponent(m[1]) : null; }
  function showRoute() {
    var id = currentRunId();
    $("list-view").hidden = Boolean(id);
    $("run-view").hidden = !id;
    // A comment being typed is not wiped by the auto-refresh: the approvals reload on their own actions.
    if (!id) return document.body.getAttribute("data-list") === "0" ? Promise.resolve() : loadList();
    return call("GET", "/submissions/" + encodeURIComponent(id)).then(function (view) { renderRun(view); say("Updated " + when(new Date().toISOString())); }, function (error) { clear($("run")).appendChild(el("p", {}, [el("a", { href: "#", text: "← all runs" })])); say(error.message, true); });
  }
  function schedule() {
    if (refreshTimer) clearInterval(refreshTimer);
    refreshTimer = $("f-auto").checked ? setInterval(showRoute, 10000) : null;
  }
  window.addEventListener("hashchange", showRoute);
  $("filters").addEventListener("submit", function (event) { event.preventDefault(); loadList(); });
  $("f-id").addEventListener("input", renderList);
  $("f-auto").addEventListener("change", schedule);
  if (AUTH === "keys" && !key) say("No function key: open this page as /api/dashboard?code=<function key>.", true);
  schedule();
  showRoute();
  loadApprovals();
})();
`;
