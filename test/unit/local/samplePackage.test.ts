/**
 * The demo's and the e2e tests' sample packages pass the service's preflight: an .hlkx/.hckx sample is an
 * OPC package with the parts and the signature origin HLK Studio writes (PKG018/PKG019 would refuse it
 * otherwise, and every run of a sample would end "rejected" before Microsoft is called).
 */
import { samplePackage } from "../../../local/samplePackage";
import { bytesReader } from "../../../src/preflight/rangeReader";
import { checkHlkx, checkPackage } from "../../../src/preflight/rules";

describe("samplePackage", () => {
  for (const extension of [".hlkx", ".hckx"] as const) {
    test(`a ${extension} sample has no preflight error`, async () => {
      const report = await checkHlkx(bytesReader(samplePackage({ extension }).bytes));
      expect(report.findings.filter((finding) => finding.severity === "error")).toEqual([]);
      expect(report.verdict).not.toBe("refused");
    });
  }

  test("a .cab sample has no preflight error", async () => {
    const report = await checkPackage(bytesReader(samplePackage({ extension: ".cab" }).bytes));
    expect(report.findings.filter((finding) => finding.severity === "error")).toEqual([]);
  });
});
