/** Pure rules shared by the triggers: instance ids, package names, harness by extension. */
import { INSTANCE_ID_PATTERN, instanceIdForPackage, isValidInstanceId, normalizeEtag } from "../../../src/domain/instanceId";
import {
  blobNameProblem,
  containerNameProblem,
  harnessForExtension,
  isSidecarName,
  packageBaseName,
  packageExtension,
  packageProblem,
  parseBlobSubject,
  sidecarNameFor,
} from "../../../src/domain/packageRules";

describe("instanceIdForPackage", () => {
  test("is stable for the same blob version and safe to use in URLs", () => {
    const a = instanceIdForPackage("driver-drops", "contoso/usb 2.3.1.hlkx", "0x8DC0FFEE");
    const b = instanceIdForPackage("driver-drops", "contoso/usb 2.3.1.hlkx", "0x8DC0FFEE");
    expect(a).toBe(b);
    expect(a).toMatch(/^drv-[0-9a-f]{32}$/);
    expect(INSTANCE_ID_PATTERN.test(a)).toBe(true);
  });

  test("quoted (HEAD) and bare (Event Grid) ETags give the same id", () => {
    expect(normalizeEtag('"0x8DC0FFEE"')).toBe("0x8DC0FFEE");
    expect(normalizeEtag('W/"0x8DC0FFEE"')).toBe("0x8DC0FFEE");
    expect(instanceIdForPackage("c1c", "a.cab", '"0x1"')).toBe(instanceIdForPackage("c1c", "a.cab", "0x1"));
  });

  test("a preproduction run has an id of its own; product ids are the ones runs already have", () => {
    // Pinned: the id every existing product run of this version was started under (issue 40 kept it).
    expect(instanceIdForPackage("driver-drops", "contoso/usb 2.3.1.hlkx", "0x8DC0FFEE")).toBe("drv-b63c8e25c6d5d31b50f475b9d2f24ae4");
    const preprod = instanceIdForPackage("driver-drops", "contoso/usb 2.3.1.hlkx", "0x8DC0FFEE", "preproduction");
    expect(preprod).toMatch(/^pre-[0-9a-f]{32}$/);
    expect(preprod).toBe(instanceIdForPackage("driver-drops", "contoso/usb 2.3.1.hlkx", '"0x8DC0FFEE"', "preproduction"));
    expect(preprod.slice(4)).not.toBe(instanceIdForPackage("driver-drops", "contoso/usb 2.3.1.hlkx", "0x8DC0FFEE").slice(4));
    expect(INSTANCE_ID_PATTERN.test(preprod)).toBe(true);
  });

  test("differs when container, name or ETag differ (and the parts cannot be shifted)", () => {
    const base = instanceIdForPackage("drops", "a.cab", "0x1");
    expect(instanceIdForPackage("drops2", "a.cab", "0x1")).not.toBe(base);
    expect(instanceIdForPackage("drops", "b.cab", "0x1")).not.toBe(base);
    expect(instanceIdForPackage("drops", "a.cab", "0x2")).not.toBe(base);
    expect(instanceIdForPackage("ab", "c.cab", "x")).not.toBe(instanceIdForPackage("a", "bc.cab", "x"));
  });

  test.each([
    ["drv-abc", true],
    ["my_run-1", true],
    ["-leading-dash", false],
    ["has space", false],
    ["../x", false],
    ["", false],
    ["a".repeat(101), false],
  ])("isValidInstanceId(%j) = %s", (id, valid) => {
    expect(isValidInstanceId(id)).toBe(valid);
  });
});

describe("package rules", () => {
  test.each([
    ["contoso.hlkx", ".hlkx", "hlk"],
    ["folder/CONTOSO.HCKX", ".hckx", "hck"],
    ["driver.cab", ".cab", "attestation"],
  ] as const)("%s → %s → %s", (name, extension, harness) => {
    expect(packageExtension(name)).toBe(extension);
    expect(harnessForExtension(packageExtension(name)!)).toBe(harness);
  });

  test.each(["readme.txt", "driver.zip", "driver.hlkx.json", ".cab", "cab"])("%s is not a package", (name) => {
    expect(packageExtension(name)).toBeUndefined();
  });

  test("sidecars and base names", () => {
    expect(isSidecarName("x.hlkx.json")).toBe(true);
    expect(isSidecarName("x.hlkx")).toBe(false);
    expect(sidecarNameFor("a/x.hlkx")).toBe("a/x.hlkx.json");
    expect(packageBaseName("team/contoso-usb-2.3.1.hlkx")).toBe("contoso-usb-2.3.1");
  });

  test("package problems: extension and zero size", () => {
    expect(packageProblem("a.cab", 10)).toBeUndefined();
    expect(packageProblem("a.cab", undefined)).toBeUndefined();
    expect(packageProblem("a.cab", 0)).toMatch(/empty/);
    expect(packageProblem("a.txt", 10)).toMatch(/\.hlkx/);
  });

  test.each([
    ["ok/name.cab", undefined],
    ["", /empty/],
    ["/abs.cab", /start with '\/'/],
    ["a/../b.cab", /\.\./],
    ["bad\u0007name.cab", /control/],
    ["x".repeat(1025), /1024/],
    // Names the storage URL would rewrite (issue 21): "./A" is stored as "A", so they are refused.
    ["./A.cab", /'\.' segments/],
    ["././A.cab", /'\.' segments/],
    ["A/./b.cab", /'\.' segments/],
    ["A/.", /'\.' segments/],
    ["A./b.cab", /ending in '\.'/],
    [".\\A.cab", /'\.' segments/],
    ["%2E/A.cab", /'\.' segments/],
    ["A/%2e/b.cab", /'\.' segments/],
    ["a//b.cab", /empty segments/],
    ["a/b.cab/", /empty segments/],
    ["a%2F%2Fb.cab", /empty segments/],
    // Dots inside a segment are ordinary characters.
    [".hidden/a.b.c.cab", undefined],
    ["..a.cab", undefined],
  ])("blobNameProblem(%j)", (name, expected) => {
    const problem = blobNameProblem(name);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  test("container names", () => {
    expect(containerNameProblem("driver-drops")).toBeUndefined();
    expect(containerNameProblem("Driver_Drops")).toBeDefined();
    expect(containerNameProblem("a--b")).toBeDefined();
    expect(containerNameProblem("ab")).toBeDefined();
  });

  test("Event Grid subjects", () => {
    expect(parseBlobSubject("/blobServices/default/containers/driver-drops/blobs/team/x.hlkx")).toEqual({
      container: "driver-drops",
      blobName: "team/x.hlkx",
    });
    expect(parseBlobSubject("/something/else")).toBeUndefined();
  });
});
