/** The approval rule (issue 34, src/domain/approval.ts) and its settings (APPROVAL_PARTNERS, APPROVAL_DEADLINE_HOURS). */
import { ConfigError, parseConfig } from "../../../src/config";
import {
  approvalDeadline,
  approvalRequirement,
  type ApprovalSettings,
  checkDecision,
  DEFAULT_APPROVAL_DEADLINE_HOURS,
  needsApproval,
  parseApprovalDecision,
  parseApprovalPartners,
} from "../../../src/domain/approval";

const settings = (over: Partial<ApprovalSettings> = {}): ApprovalSettings => ({ partners: [{ publisherId: "12345", name: "Fabrikam" }], deadlineHours: 168, ...over });
const requester = { objectId: "aaaaaaaa-0000-0000-0000-000000000001", name: "Rita" };
const valid = { decision: "approve", comment: "", approver: { objectId: "bbbbbbbb-0000-0000-0000-000000000002", name: "Alex" }, decidedAt: "2026-12-07T08:00:00Z" };
const base = { AzureWebJobsStorage: "UseDevelopmentStorage=true", HDC_TENANT_ID: "t", HDC_CLIENT_ID: "c", HDC_CLIENT_SECRET: "s" };

describe("which labels need a second person", () => {
  test("Windows Update always; a configured partner share; not another partner; never a dry run", () => {
    expect(needsApproval({ destination: "windowsUpdate" }, settings({ partners: [] }))).toBe(true);
    expect(needsApproval({ destination: "anotherPartner", receiverPublisherId: "12345" }, settings())).toBe(true);
    expect(needsApproval({ destination: "anotherPartner", receiverPublisherId: "99999" }, settings())).toBe(false);
    expect(needsApproval({ destination: "anotherPartner", receiverPublisherId: "99999" }, settings({ partners: "all" }))).toBe(true);
    expect(needsApproval({ destination: "windowsUpdate", dryRun: true }, settings())).toBe(false);
  });

  test("the input field: requester and deadline, or nothing", () => {
    expect(approvalRequirement({ destination: "windowsUpdate" }, requester, settings({ deadlineHours: 48 }))).toEqual({ requester, deadlineHours: 48 });
    expect(approvalRequirement({ destination: "windowsUpdate" }, { objectId: "x" }, settings())).toEqual({ requester: { objectId: "x" }, deadlineHours: 168 });
    expect(approvalRequirement({ destination: "windowsUpdate" }, undefined, settings())).toEqual({ deadlineHours: 168 });
    expect(approvalRequirement({ destination: "anotherPartner", receiverPublisherId: "1" }, requester, settings())).toBeUndefined();
  });

  test("the deadline is hours after the wait began", () => {
    expect(approvalDeadline(new Date("2026-12-01T00:00:00Z"), DEFAULT_APPROVAL_DEADLINE_HOURS).toISOString()).toBe("2026-12-08T00:00:00.000Z");
  });
});

describe("the decision event", () => {
  test("a valid decision parses; reject needs a comment", () => {
    expect(parseApprovalDecision(valid)).toEqual({ ok: true, value: valid });
    expect(parseApprovalDecision({ ...valid, decision: "reject", comment: " " })).toEqual({ ok: false, problems: [{ field: "comment", reason: "must say why when rejecting" }] });
  });

  test("each bad field is named with its reason", () => {
    const parsed = parseApprovalDecision({ decision: "yes", comment: "x".repeat(1001), approver: { objectId: "", name: 3, role: "admin" }, decidedAt: "yesterday", extra: 1 });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems.map((p) => p.field).sort()).toEqual(["approver.name", "approver.objectId", "approver.role", "comment", "decidedAt", "decision", "extra"]);
    expect(parseApprovalDecision("approve")).toEqual({ ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] });
  });

  test("the requester may not decide (object ids compare case-insensitively); someone else may", () => {
    expect(checkDecision({ ...valid, approver: { objectId: requester.objectId.toUpperCase(), name: "Rita" } }, requester)).toEqual({
      ok: false,
      reason: "the requester may not decide on their own label",
      approver: { objectId: requester.objectId.toUpperCase(), name: "Rita" },
    });
    expect(checkDecision(valid, requester)).toEqual({ ok: true, decision: valid });
    // Unknown requester (a run without an owner): any valid decision counts.
    expect(checkDecision(valid, undefined)).toMatchObject({ ok: true });
    expect(checkDecision({ decision: "approve" }, requester)).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid decision: comment is required/) });
  });
});

describe("settings", () => {
  test("defaults: 7 days, no partner shares", () => {
    expect(parseConfig(base).approval).toEqual({ partners: [], deadlineHours: 168 });
  });

  test("APPROVAL_PARTNERS and APPROVAL_DEADLINE_HOURS parse", () => {
    expect(parseConfig({ ...base, APPROVAL_PARTNERS: "12345=Fabrikam, 678", APPROVAL_DEADLINE_HOURS: "48" }).approval).toEqual({
      partners: [{ publisherId: "12345", name: "Fabrikam" }, { publisherId: "678" }],
      deadlineHours: 48,
    });
    expect(parseConfig({ ...base, APPROVAL_PARTNERS: "*" }).approval.partners).toBe("all");
  });

  test("bad values name the setting and the reason", () => {
    const problems = (env: Record<string, string>) => {
      try {
        parseConfig({ ...base, ...env });
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ APPROVAL_DEADLINE_HOURS: "0" })).toEqual(["APPROVAL_DEADLINE_HOURS must be at least 1 hour"]);
    expect(problems({ APPROVAL_DEADLINE_HOURS: "721" })).toEqual(["APPROVAL_DEADLINE_HOURS must be at most 720 hours (30 days)"]);
    expect(problems({ APPROVAL_PARTNERS: "fabrikam" })[0]).toMatch(/^APPROVAL_PARTNERS "fabrikam" must start with a publisher \(seller\) id/);
    expect(problems({ APPROVAL_PARTNERS: "1,1" })).toEqual(["APPROVAL_PARTNERS publisher id 1 is listed twice"]);
    expect(problems({ APPROVAL_PARTNERS: "1,*" })).toEqual(['APPROVAL_PARTNERS "*" must be the only entry (it means every partner share)']);
    expect(parseApprovalPartners("12=")).toMatchObject({ ok: false });
  });
});
