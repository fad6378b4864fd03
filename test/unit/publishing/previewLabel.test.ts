/**
 * Issue 37: the label a dry-run policy would produce, from the INFs preflight read, before
 * Microsoft's driver metadata exists (src/publishing/previewLabel.ts): OS codes per INF architecture
 * from the requested signatures, the policy's include/exclude rules on INF, OS code and PnP id, and
 * Microsoft's refusals as problems.
 */
import type { PreflightInf } from "../../../src/domain/types";
import { architectureOfOsCode, metadataFromInfs, previewLabel } from "../../../src/publishing/previewLabel";

const usb: PreflightInf = { path: "usb/Contoso_USB.inf", architectures: ["amd64"], hardwareIds: ["usb\\vid_1234&pid_5678", "usb\\vid_1234&pid_9999"], driverVersion: "1.2.3.4" };
const arm: PreflightInf = { path: "arm/contoso_arm.inf", architectures: ["arm64"], hardwareIds: ["acpi\\cont0001"] };
const product = { productName: "contoso-usb", testHarness: "attestation" as const, requestedSignatures: ["WINDOWS_v100_X64_RS5_FULL", "WINDOWS_v100_ARM64_CO_FULL"] };

describe("previewLabel", () => {
  it("maps OS codes to architectures (X64 → amd64, ARM64 → arm64, none → undefined)", () => {
    expect(architectureOfOsCode("WINDOWS_v100_X64_RS5_FULL")).toBe("amd64");
    expect(architectureOfOsCode("WINDOWS_v100_ARM64_CO_FULL")).toBe("arm64");
    expect(architectureOfOsCode("WINDOWS_v100_X86_TH")).toBe("x86");
    expect(architectureOfOsCode("WINDOWS_v100_RS5_FULL")).toBeUndefined();
  });

  it("lists each INF's ids under the requested OS codes of its architectures only (an undecorated INF under all)", () => {
    const undecorated: PreflightInf = { path: "any/plain.inf", architectures: [], hardwareIds: ["root\\plain"] };
    const metadata = metadataFromInfs([usb, arm, undecorated], product.requestedSignatures);
    const infs = metadata.BundleInfoMap.package.InfInfoMap!;
    expect(Object.keys(infs).sort()).toEqual(["contoso_arm.inf", "contoso_usb.inf", "plain.inf"]);
    expect(Object.keys(infs["contoso_usb.inf"].OSPnPInfoMap!)).toEqual(["WINDOWS_v100_X64_RS5_FULL"]);
    expect(Object.keys(infs["contoso_arm.inf"].OSPnPInfoMap!)).toEqual(["WINDOWS_v100_ARM64_CO_FULL"]);
    expect(Object.keys(infs["plain.inf"].OSPnPInfoMap!)).toEqual(product.requestedSignatures);
    expect(infs["contoso_usb.inf"].DriverVersion).toBe("1.2.3.4");
  });

  it("an anotherPartner policy with an include rule: the selected ids, OS codes and the INF's version in the name; no problems", () => {
    const preview = previewLabel({ destination: "anotherPartner", receiverPublisherId: "12345", dryRun: true, hardwareIds: { include: [{ pnp: "usb\\vid_1234&pid_5678" }] } }, [usb, arm], product);
    expect(preview).toEqual({
      basis: "packageInfs",
      name: "contoso-usb 1.2.3.4",
      destination: "anotherPartner",
      hardwareIdCount: 1,
      hardwareIds: ["contoso_usb.inf | WINDOWS_v100_X64_RS5_FULL | usb\\vid_1234&pid_5678"],
      operatingSystemCodes: ["WINDOWS_v100_X64_RS5_FULL"],
      chidCount: 0,
      problems: [],
    });
  });

  it("what Microsoft would refuse is listed: a rule selecting nothing, CHIDs for a pre-Windows 10 OS code", () => {
    const none = previewLabel({ destination: "anotherPartner", receiverPublisherId: "1", dryRun: true, hardwareIds: { include: [{ inf: "other_*.inf" }] } }, [usb], product);
    expect(none.hardwareIdCount).toBe(0);
    expect(none.problems).toEqual([expect.stringMatching(/^publish\.hardwareIds: selects no hardware id/)]);
    const old = previewLabel(
      { destination: "anotherPartner", receiverPublisherId: "1", dryRun: true, chids: ["11111111-2222-3333-4444-555555555555"] },
      [{ ...usb, architectures: [] }],
      { ...product, requestedSignatures: ["WINDOWS_v63_X64"] },
    );
    expect(old.hardwareIdCount).toBe(2);
    expect(old.chidCount).toBe(1);
    expect(old.problems).toEqual([expect.stringMatching(/^publish\.chids: are only allowed when every hardware id targets Windows 10 or later; the selection includes WINDOWS_v63_X64/)]);
  });

  it("no INFs read (an HLK archive): nothing selected, said as Microsoft would refuse it", () => {
    const preview = previewLabel({ destination: "anotherPartner", receiverPublisherId: "1", dryRun: true }, [], product);
    expect(preview).toMatchObject({ hardwareIdCount: 0, hardwareIds: [], problems: [expect.stringContaining("selects no hardware id")] });
  });
});
