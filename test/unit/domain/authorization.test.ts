/**
 * The role table (src/domain/authorization.ts): each role's actions and scopes, written out here
 * literally (not read back from the table), the broadest scope when a caller holds several roles,
 * and the owner check behind "own", "any" and "others".
 */
import { ACTIONS, authorize, refusalText, withinScope, type Action } from "../../../src/domain/authorization";

const scopeOf = (roles: string[], action: Action) => {
  const decision = authorize(roles, action);
  return decision.allowed ? decision.scope : "refused";
};

/** What each single role may do; every other action is refused to it. */
const EXPECTED: Record<string, Partial<Record<Action, string>>> = {
  "Sign.Submit": {
    "upload.create": "own",
    "submission.start": "own",
    "submission.resume": "own",
    "submission.status": "own",
    "submission.list": "own",
    "submission.files": "own",
    "submission.cancel": "own",
    "dashboard.view": "own",
    "rejectedDrop.read": "own",
  },
  "Sign.Publish": { "label.create": "own", "label.list": "own", "label.change": "own", "label.cancel": "own", "label.changeStatus": "own", "dashboard.view": "own" },
  "Sign.Approve": { "approval.decide": "others", "approval.list": "any", "dashboard.view": "own" },
  "Sign.Operate": {
    "submission.status": "any",
    "submission.list": "any",
    "submission.files": "any",
    "submission.cancel": "any",
    "label.list": "any",
    "label.changeStatus": "any",
    "dashboard.view": "any",
    "rejectedDrop.read": "any",
    "audit.read": "any",
  },
  "Sign.Reader": {},
  none: {},
};

describe("authorize", () => {
  it("knows the sixteen actions of the app", () => {
    expect([...ACTIONS].sort()).toEqual(
      [
        "upload.create",
        "submission.start",
        "submission.resume",
        "submission.status",
        "submission.list",
        "submission.files",
        "submission.cancel",
        "label.create",
        "label.list",
        "label.change",
        "label.cancel",
        "label.changeStatus",
        "dashboard.view",
        "rejectedDrop.read",
        "audit.read",
        "approval.decide",
        "approval.list",
      ].sort(),
    );
  });

  it.each(Object.entries(EXPECTED))("%s: exactly its actions, with their scopes", (role, expected) => {
    const roles = role === "none" ? [] : [role];
    const actual = Object.fromEntries(ACTIONS.map((action) => [action, scopeOf(roles, action)]));
    const wanted = Object.fromEntries(ACTIONS.map((action) => [action, expected[action] ?? "refused"]));
    expect(actual).toEqual(wanted);
  });

  it("an operator never starts, resumes, publishes or approves; nobody decides with Sign.Operate alone", () => {
    for (const action of ["submission.start", "submission.resume", "upload.create", "label.create", "label.change", "label.cancel", "approval.decide"] as Action[]) {
      expect(scopeOf(["Sign.Operate"], action)).toBe("refused");
    }
  });

  it("several roles: the broadest scope wins (Submit own + Operate any = any)", () => {
    expect(scopeOf(["Sign.Submit", "Sign.Operate"], "submission.cancel")).toBe("any");
    expect(scopeOf(["Sign.Operate", "Sign.Submit"], "submission.status")).toBe("any");
    expect(scopeOf(["Sign.Submit", "Sign.Publish"], "label.create")).toBe("own");
    expect(scopeOf(["Sign.Approve", "Sign.Submit"], "dashboard.view")).toBe("own");
  });

  it("roles are matched exactly (case and spelling)", () => {
    expect(scopeOf(["sign.submit"], "submission.start")).toBe("refused");
    expect(scopeOf(["Sign.Submit "], "submission.start")).toBe("refused");
  });

  it("a refusal names the action and the roles that allow it", () => {
    expect(authorize(["Sign.Publish"], "submission.cancel")).toEqual({ allowed: false, action: "submission.cancel", allowedRoles: ["Sign.Submit", "Sign.Operate"] });
    expect(refusalText("label.create")).toBe("the caller may not do label.create: it needs one of the roles Sign.Publish");
  });
});

describe("withinScope", () => {
  const alice = { objectId: "oid-alice", name: "alice" };
  it("own: only the owner; a run without an owner is nobody's own", () => {
    expect(withinScope("own", "oid-alice", alice)).toBe(true);
    expect(withinScope("own", "oid-bob", alice)).toBe(false);
    expect(withinScope("own", "oid-alice", undefined)).toBe(false);
  });
  it("any: every owner's and the ownerless", () => {
    expect(withinScope("any", "oid-bob", alice)).toBe(true);
    expect(withinScope("any", "oid-bob", undefined)).toBe(true);
  });
  it("others: never one's own (a second person approves)", () => {
    expect(withinScope("others", "oid-bob", alice)).toBe(true);
    expect(withinScope("others", "oid-alice", alice)).toBe(false);
    expect(withinScope("others", "oid-bob", undefined)).toBe(false);
  });
});
