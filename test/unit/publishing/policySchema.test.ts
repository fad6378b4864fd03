/** The `publish` policy validation: smallest forms accepted, each rule refused with its field named. */
import { parsePublishPolicy } from "../../../src/publishing/policySchema";

const approval = {
  microsoftContact: "sponsor@microsoft.com",
  validationsPerformed: "HLK + internal regression",
  affectedOems: ["Contoso"],
  businessJustification: "Fixes crash on resume",
};

function problemsOf(value: unknown): { field: string; reason: string }[] {
  const result = parsePublishPolicy(value);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.value)}`);
  return result.problems;
}
const fieldsOf = (value: unknown) => problemsOf(value).map((problem) => problem.field).sort();

describe("publish policy: accepted forms", () => {
  it("accepts the smallest partner share", () => {
    expect(parsePublishPolicy({ destination: "anotherPartner", receiverPublisherId: "27691110" })).toEqual({
      ok: true,
      value: { destination: "anotherPartner", receiverPublisherId: "27691110" },
    });
  });

  it("accepts the smallest Windows Update dry run", () => {
    expect(parsePublishPolicy({ destination: "windowsUpdate", dryRun: true })).toEqual({ ok: true, value: { destination: "windowsUpdate", dryRun: true } });
  });

  it("accepts a full Windows Update policy and normalises release casing", () => {
    const result = parsePublishPolicy({
      destination: "windowsUpdate",
      name: "Contoso USB 2.3.1.0 WU",
      hardwareIds: { include: [{ inf: "contoso_*.inf", osCode: "WINDOWS_v100_*" }], exclude: [{ pnp: "root\\*" }] },
      chids: ["346511cf-ccee-5c6d-8ee9-3c70fc7aae83"],
      audiences: ["9f4f44d8-bfec-48c6-a02c-2d9ea220f6e2"],
      floor: "rs5",
      ceiling: "NI",
      goLiveDate: "2026-12-07T00:00:00Z",
      autoInstallOnApplicableSystems: true,
      manualAcquisition: false,
      approval,
      visibleToAccounts: ["27691110"],
    });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value).toMatchObject({ floor: "RS5", ceiling: "NI" });
  });
});

describe("publish policy: each rule refused with its field", () => {
  it("requires a known destination", () => {
    expect(problemsOf({})).toEqual([{ field: "publish.destination", reason: "is required" }]);
    expect(fieldsOf({ destination: "retail" })).toEqual(["publish.destination"]);
    expect(problemsOf("windowsUpdate")).toEqual([{ field: "publish", reason: "must be a JSON object" }]);
  });

  it("names unknown fields (e.g. the misspelt manualAcquistion)", () => {
    expect(problemsOf({ destination: "windowsUpdate", manualAcquistion: true })).toEqual([
      { field: "publish.manualAcquistion", reason: "is not a recognized field" },
    ]);
  });

  it("auto-install requires manualAcquisition false", () => {
    expect(fieldsOf({ destination: "windowsUpdate", autoInstallDuringOSUpgrade: true, manualAcquisition: true, approval })).toEqual(["publish.manualAcquisition"]);
  });

  it("no auto-install requires manual acquisition", () => {
    const problems = problemsOf({ destination: "windowsUpdate", manualAcquisition: false });
    expect(problems).toEqual([{ field: "publish.manualAcquisition", reason: expect.stringMatching(/must be true unless/) }]);
  });

  it("auto-install requires the approval information, and each approval field is checked", () => {
    expect(fieldsOf({ destination: "windowsUpdate", autoInstallOnApplicableSystems: true })).toEqual(["publish.approval"]);
    expect(
      fieldsOf({ destination: "windowsUpdate", autoInstallOnApplicableSystems: true, approval: { ...approval, microsoftContact: "not-an-address", affectedOems: [] } }),
    ).toEqual(["publish.approval.affectedOems", "publish.approval.microsoftContact"]);
  });

  it("refuses CHIDs with an include rule that names an OS older than Windows 10", () => {
    expect(
      fieldsOf({ destination: "windowsUpdate", chids: "allFromMetadata", hardwareIds: { include: [{ osCode: "WINDOWS_v100_X64_RS5_FULL" }, { osCode: "WINDOWS_v63_X64" }] } }),
    ).toEqual(["publish.hardwareIds.include.1.osCode"]);
  });

  it("refuses CHIDs that are not GUIDs", () => {
    expect(fieldsOf({ destination: "windowsUpdate", chids: ["not-a-guid"] })).toEqual(["publish.chids.0"]);
  });

  it("only takes documented floor/ceiling values, ceiling not below floor", () => {
    expect(fieldsOf({ destination: "windowsUpdate", floor: "RS7" })).toEqual(["publish.floor"]);
    expect(fieldsOf({ destination: "windowsUpdate", floor: "NI", ceiling: "RS5" })).toEqual(["publish.ceiling"]);
  });

  it("refuses in-service and co-engineering info together", () => {
    expect(fieldsOf({ destination: "windowsUpdate", floor: "RS5", coEngineering: { floorBuildNumber: "22621" } })).toEqual(["publish.coEngineering"]);
    expect(fieldsOf({ destination: "windowsUpdate", coEngineering: { floorBuildNumber: "22621", ceilingBuildNumber: "19041" } })).toEqual([
      "publish.coEngineering.ceilingBuildNumber",
    ]);
  });

  it("partner CHID enforcement needs CHIDs", () => {
    expect(fieldsOf({ destination: "anotherPartner", receiverPublisherId: "1", enforceChidTargeting: true })).toEqual(["publish.enforceChidTargeting"]);
  });

  it("requires a digit receiverPublisherId for anotherPartner", () => {
    expect(problemsOf({ destination: "anotherPartner" })).toEqual([{ field: "publish.receiverPublisherId", reason: "is required when destination is anotherPartner" }]);
    expect(fieldsOf({ destination: "anotherPartner", receiverPublisherId: "contoso" })).toEqual(["publish.receiverPublisherId"]);
    expect(fieldsOf({ destination: "anotherPartner", receiverPublisherId: 27691110 })).toEqual(["publish.receiverPublisherId"]);
  });

  it("keeps destination-specific fields to their destination", () => {
    expect(fieldsOf({ destination: "anotherPartner", receiverPublisherId: "1", audiences: ["a"], goLiveDate: "2026-12-07T00:00:00Z", approval })).toEqual([
      "publish.approval",
      "publish.audiences",
      "publish.goLiveDate",
    ]);
    expect(fieldsOf({ destination: "windowsUpdate", receiverPublisherId: "1", enforceChidTargeting: true })).toEqual([
      "publish.enforceChidTargeting",
      "publish.receiverPublisherId",
    ]);
  });

  it("bounds arrays and strings", () => {
    const manyRules = Array.from({ length: 101 }, (_, i) => ({ inf: `x${i}.inf` }));
    expect(fieldsOf({ destination: "windowsUpdate", hardwareIds: { include: manyRules } })).toEqual(["publish.hardwareIds"]);
    expect(fieldsOf({ destination: "windowsUpdate", name: "n".repeat(257) })).toEqual(["publish.name"]);
    expect(fieldsOf({ destination: "windowsUpdate", audiences: Array.from({ length: 21 }, (_, i) => `a${i}`) })).toEqual(["publish.audiences"]);
    expect(fieldsOf({ destination: "windowsUpdate", visibleToAccounts: ["12a"] })).toEqual(["publish.visibleToAccounts.0"]);
    expect(fieldsOf({ destination: "windowsUpdate", name: "bad\u0007name" })).toEqual(["publish.name"]);
  });

  it("refuses an empty rule and a malformed selection", () => {
    expect(problemsOf({ destination: "windowsUpdate", hardwareIds: { include: [{}] } })).toEqual([
      { field: "publish.hardwareIds.include.0", reason: "must name at least one of inf, osCode, pnp" },
    ]);
    expect(fieldsOf({ destination: "windowsUpdate", hardwareIds: "some" })).toEqual(["publish.hardwareIds"]);
  });

  it("refuses a go-live date that is not ISO 8601", () => {
    expect(fieldsOf({ destination: "windowsUpdate", goLiveDate: "next week" })).toEqual(["publish.goLiveDate"]);
  });
});
