/**
 * Owners (issue 32), the pure parts: DROP_OWNERS (parsing, problems named, the longest prefix
 * wins, unmatched drops belong to nobody), the setting through parseConfig, the owner read back from
 * an orchestration input (legacy inputs have none), and resumeOwnershipProblems with the caller.
 */
import { ConfigError, parseConfig } from "../../../src/config";
import { ownerIn } from "../../../src/domain/authorization";
import { dropOwnerFor, parseDropOwners } from "../../../src/domain/dropOwners";
import { roundKey } from "../../../src/domain/instanceId";
import { resumeOwnershipProblems } from "../../../src/domain/resumeOwnership";

const BOB = "0b0b0b0b-1111-4222-a333-444455556666";
const TEAM = "7eae7eae-1111-4222-a333-444455556666";

describe("DROP_OWNERS", () => {
  it("parses container/prefix=objectId[:name] entries; the longest matching prefix wins", () => {
    const parsed = parseDropOwners(` driver-drops/team-b/=${BOB}:Bob ; driver-drops/team-b/special/=${TEAM}:Special team;other-drops=${TEAM}`);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.entries).toEqual([
      { container: "driver-drops", prefix: "team-b/", owner: { objectId: BOB, name: "Bob" } },
      { container: "driver-drops", prefix: "team-b/special/", owner: { objectId: TEAM, name: "Special team" } },
      { container: "other-drops", prefix: "", owner: { objectId: TEAM } },
    ]);
    expect(dropOwnerFor(parsed.entries, "driver-drops", "team-b/a.hlkx")).toEqual({ objectId: BOB, name: "Bob" });
    expect(dropOwnerFor(parsed.entries, "driver-drops", "team-b/special/a.hlkx")).toEqual({ objectId: TEAM, name: "Special team" });
    expect(dropOwnerFor(parsed.entries, "other-drops", "x/a.cab")).toEqual({ objectId: TEAM });
    // Unmatched: nobody's (operators only); a prefix is not a folder match by accident of case.
    expect(dropOwnerFor(parsed.entries, "driver-drops", "a.hlkx")).toBeUndefined();
    expect(dropOwnerFor(parsed.entries, "driver-drops", "Team-b/a.hlkx")).toBeUndefined();
    expect(dropOwnerFor([], "driver-drops", "team-b/a.hlkx")).toBeUndefined();
  });

  it("names each bad entry and why", () => {
    const parsed = parseDropOwners(`driver-drops/team-b/;Bad_Container/x=${BOB};driver-drops/y=not an id;driver-drops/z=${BOB};driver-drops/z=${TEAM}`);
    expect(parsed).toEqual({
      ok: false,
      problems: [
        `"driver-drops/team-b/" must be <container>/<prefix>=<objectId>[:<name>]`,
        `"Bad_Container/x=${BOB}": container "Bad_Container" must be a valid storage container name (3-63 lowercase letters, digits and single dashes)`,
        `"driver-drops/y=not an id": the owner's object id must be an object id (letters, digits, '.', '_' or '-', at most 128)`,
        `"driver-drops/z=${TEAM}": driver-drops/z is named twice`,
      ],
    });
  });

  it("is an app setting: empty means no entries, a bad value fails the configuration naming DROP_OWNERS", () => {
    const base = { HDC_TENANT_ID: "11111111-2222-3333-4444-555555555555", HDC_CLIENT_ID: "66666666-7777-8888-9999-000000000000", HDC_CLIENT_SECRET: "not-used", AzureWebJobsStorage: "UseDevelopmentStorage=true" };
    expect(parseConfig(base).settings.DROP_OWNERS).toEqual([]);
    expect(parseConfig({ ...base, DROP_OWNERS: `driver-drops/a/=${BOB}:Bob` }).settings.DROP_OWNERS).toEqual([{ container: "driver-drops", prefix: "a/", owner: { objectId: BOB, name: "Bob" } }]);
    let problems: string[] = [];
    try {
      parseConfig({ ...base, DROP_OWNERS: "driver-drops/a/" });
    } catch (error) {
      problems = error instanceof ConfigError ? error.problems : [];
    }
    expect(problems).toEqual([`DROP_OWNERS "driver-drops/a/" must be <container>/<prefix>=<objectId>[:<name>]`]);
  });
});

describe("ownerIn", () => {
  it("reads a well-formed owner from an input; legacy and malformed inputs have none", () => {
    expect(ownerIn({ owner: { objectId: BOB, name: "bob", clientAppId: "app-1", extra: "dropped" } })).toEqual({ objectId: BOB, name: "bob", clientAppId: "app-1" });
    expect(ownerIn({ package: {}, requestedBy: "http" })).toBeUndefined();
    expect(ownerIn({ owner: { name: "no id" } })).toBeUndefined();
    expect(ownerIn({ owner: { objectId: "" } })).toBeUndefined();
    expect(ownerIn({ owner: "bob" })).toBeUndefined();
    expect(ownerIn(undefined)).toBeUndefined();
  });
});

describe("resumeOwnershipProblems with the caller", () => {
  const instanceId = "drv-0123456789abcdef0123456789abcdef";
  const ours = { product: instanceId, submission: roundKey(instanceId, 2) };
  const resume = { productId: "1152921504606846976", submissionId: "1152921504606846977" };

  it("the owner of this version's run may resume its ids", () => {
    expect(resumeOwnershipProblems(instanceId, resume, ours, { objectId: BOB, scope: "own", runOwner: { objectId: BOB } })).toEqual([]);
  });

  it("anyone else with an own scope is refused on both ids, naming them", () => {
    const problems = resumeOwnershipProblems(instanceId, resume, ours, { objectId: TEAM, scope: "own", runOwner: { objectId: BOB } });
    expect(problems.map((p) => p.field)).toEqual(["productId", "submissionId"]);
    expect(problems[0].reason).toBe(`product ${resume.productId} belongs to a submission of this package version that the caller did not start; only its owner may resume it`);
  });

  it("a run nobody owns (legacy, unowned drop, checkpoints only) is resumed by no own scope; an any scope (the key holder) may", () => {
    expect(resumeOwnershipProblems(instanceId, resume, ours, { objectId: BOB, scope: "own", runOwner: undefined })).toHaveLength(2);
    expect(resumeOwnershipProblems(instanceId, resume, ours, { objectId: BOB, scope: "any", runOwner: undefined })).toEqual([]);
    expect(resumeOwnershipProblems(instanceId, resume, ours, { objectId: BOB, scope: undefined, runOwner: { objectId: BOB } })).toHaveLength(2);
  });

  it("ids of another package version keep their own reason (ownership is not even asked)", () => {
    const problems = resumeOwnershipProblems(instanceId, { productId: resume.productId }, { product: "drv-ffffffffffffffffffffffffffffffff" }, { objectId: BOB, scope: "own", runOwner: { objectId: BOB } });
    expect(problems).toEqual([{ field: "productId", reason: expect.stringContaining("was created for another package version") }]);
  });
});
