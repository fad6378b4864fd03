/** Policy expansion against driver metadata: filters, lower-casing, CHIDs, the metadata-dependent rules. */
import type { PublishPolicy } from "../../../src/domain/publishing";
import { type Audience, expandPolicy, type ExpandInput, MAX_LABEL_HARDWARE_IDS } from "../../../src/publishing/expandPolicy";
import { globMatches } from "../../../src/publishing/glob";

const BUNDLE = "3aba7558-10ca-42db-b1d1-57af5718aea3";
const CHID_A = "A9A8E6FC-0000-4000-8000-000000000001";
const CHID_B = "a4a127cb-0000-4000-8000-000000000002";
const CHID_C = "c0c0c0c0-0000-4000-8000-000000000003";
const device = { Manufacturer: "Contoso", DeviceDescription: "d", FeatureScore: null };

const metadata = {
  BundleInfoMap: {
    [BUNDLE]: {
      Locales: ["English"],
      InfInfoMap: {
        "contoso_usb.inf": {
          DriverVersion: "2.3.1.0",
          ExtensionId: null,
          InstallationComputerHardwareIds: [CHID_A, CHID_B],
          OSPnPInfoMap: {
            WINDOWS_v100_X64_RS5_FULL: { "USB\\VID_045E&PID_0002": device, "USB\\VID_045E&PID_0001": device },
            WINDOWS_v100_X64_CO_FULL: { "USB\\VID_045E&PID_0001": device },
          },
        },
        "contoso_filter.inf": {
          DriverVersion: "2.3.10.0",
          ExtensionId: null,
          InstallationComputerHardwareIds: [CHID_B, CHID_C],
          OSPnPInfoMap: { WINDOWS_v63_X64: { "ROOT\\CONTOSO_FILTER": device }, WINDOWS_v100_X64_RS5_FULL: { "ROOT\\CONTOSO_FILTER": device } },
        },
        "contoso_ext.inf": {
          DriverVersion: "2.3.1.0",
          ExtensionId: "e1e1e1e1-0000-4000-8000-000000000009",
          InstallationComputerHardwareIds: [],
          OSPnPInfoMap: { WINDOWS_v100_X64_RS5_FULL: { "USB\\VID_045E&PID_0001": device } },
        },
      },
    },
  },
};

const TEST_REGISTRY_KEY = "9f4f44d8-bfec-48c6-a02c-2d9ea220f6e2";
const RETAIL_AUDIENCE = "b1a2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const audiences: Audience[] = [
  { id: RETAIL_AUDIENCE, name: "OEM Preview Fleet" },
  { id: TEST_REGISTRY_KEY, name: "Test Registry Key", audienceName: "TestRegistryKey" },
];
const approval = { microsoftContact: "sponsor@microsoft.com", validationsPerformed: "HLK", affectedOems: ["Contoso"], businessJustification: "fix" };

function expand(policy: PublishPolicy, overrides: Partial<ExpandInput> = {}) {
  return expandPolicy({ policy, metadata, submission: { productName: "Contoso USB", testHarness: "hlk" }, audiences, ...overrides });
}
function expanded(policy: PublishPolicy, overrides: Partial<ExpandInput> = {}) {
  const result = expand(policy, overrides);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.value;
}
function problems(policy: PublishPolicy, overrides: Partial<ExpandInput> = {}) {
  const result = expand(policy, overrides);
  if (result.ok) throw new Error("expected problems");
  return result.problems;
}
const tuples = (policy: PublishPolicy) => expanded(policy).label.targeting.hardwareIds.map((id) => `${id.infId}|${id.operatingSystemCode}|${id.pnpString}`);

describe("expandPolicy: hardware ids", () => {
  it("expands every tuple, sorted, pnp lower-cased, bundle id kept", () => {
    const { label, summary } = expanded({ destination: "anotherPartner", receiverPublisherId: "27691110" });
    expect(label.targeting.hardwareIds[0]).toEqual({ bundleId: BUNDLE, infId: "contoso_ext.inf", operatingSystemCode: "WINDOWS_v100_X64_RS5_FULL", pnpString: "usb\\vid_045e&pid_0001" });
    expect(tuples({ destination: "anotherPartner", receiverPublisherId: "27691110" })).toEqual([
      "contoso_ext.inf|WINDOWS_v100_X64_RS5_FULL|usb\\vid_045e&pid_0001",
      "contoso_filter.inf|WINDOWS_v100_X64_RS5_FULL|root\\contoso_filter",
      "contoso_filter.inf|WINDOWS_v63_X64|root\\contoso_filter",
      "contoso_usb.inf|WINDOWS_v100_X64_CO_FULL|usb\\vid_045e&pid_0001",
      "contoso_usb.inf|WINDOWS_v100_X64_RS5_FULL|usb\\vid_045e&pid_0001",
      "contoso_usb.inf|WINDOWS_v100_X64_RS5_FULL|usb\\vid_045e&pid_0002",
    ]);
    expect(summary).toEqual({
      hardwareIds: 6,
      chids: 0,
      infs: ["contoso_ext.inf", "contoso_filter.inf", "contoso_usb.inf"],
      operatingSystemCodes: ["WINDOWS_v100_X64_CO_FULL", "WINDOWS_v100_X64_RS5_FULL", "WINDOWS_v63_X64"],
      extensionInfs: ["contoso_ext.inf"],
    });
    expect(label.recipientSpecifications).toEqual({ receiverPublisherId: "27691110", enforceChidTargeting: false });
    expect(label.publishingSpecifications).toBeUndefined();
  });

  it("filters by include and exclude rules, case-insensitive globs", () => {
    expect(
      tuples({ destination: "windowsUpdate", hardwareIds: { include: [{ inf: "CONTOSO_USB.INF" }], exclude: [{ osCode: "*_co_*" }, { pnp: "USB\\VID_045E&PID_0002" }] } }),
    ).toEqual(["contoso_usb.inf|WINDOWS_v100_X64_RS5_FULL|usb\\vid_045e&pid_0001"]);
    expect(tuples({ destination: "windowsUpdate", hardwareIds: { include: [{ inf: "contoso_filter.inf", osCode: "WINDOWS_v100_*" }] } })).toEqual([
      "contoso_filter.inf|WINDOWS_v100_X64_RS5_FULL|root\\contoso_filter",
    ]);
    expect(tuples({ destination: "windowsUpdate", hardwareIds: { include: [{ pnp: "root\\*" }, { pnp: "usb\\vid_045e&pid_000?" , osCode: "*CO*" }] } })).toEqual([
      "contoso_filter.inf|WINDOWS_v100_X64_RS5_FULL|root\\contoso_filter",
      "contoso_filter.inf|WINDOWS_v63_X64|root\\contoso_filter",
      "contoso_usb.inf|WINDOWS_v100_X64_CO_FULL|usb\\vid_045e&pid_0001",
    ]);
  });

  it("refuses a policy that selects no hardware id", () => {
    expect(problems({ destination: "windowsUpdate", hardwareIds: { include: [{ inf: "other.inf" }] } })).toEqual([
      { field: "publish.hardwareIds", reason: "selects no hardware id: the driver metadata lists 6, none matched the policy" },
    ]);
  });

  it("refuses metadata that is not driver metadata", () => {
    expect(problems({ destination: "windowsUpdate" }, { metadata: { nope: 1 } })).toEqual([{ field: "driverMetadata", reason: "is not driver metadata (no BundleInfoMap object)" }]);
  });

  it("bounds the number of hardware ids in one label", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_LABEL_HARDWARE_IDS + 1 }, (_, i) => [`PCI\\VEN_1234&DEV_${i}`, device]));
    const big = { BundleInfoMap: { [BUNDLE]: { InfInfoMap: { "big.inf": { ExtensionId: null, OSPnPInfoMap: { WINDOWS_v100_X64_RS5_FULL: many } } } } } };
    expect(problems({ destination: "anotherPartner", receiverPublisherId: "1" }, { metadata: big })[0]).toEqual({
      field: "publish.hardwareIds",
      reason: expect.stringMatching(/selects 5001 hardware ids; at most 5000/),
    });
  });
});

describe("expandPolicy: metadata-dependent rules", () => {
  const noExtension = { include: [{ inf: "contoso_usb.inf" }, { inf: "contoso_filter.inf" }] };

  it("takes CHIDs from the selected INFs (lower-cased, deduplicated, sorted) and refuses them with pre-Windows 10 OS codes", () => {
    expect(problems({ destination: "windowsUpdate", hardwareIds: noExtension, chids: "allFromMetadata" })).toEqual([
      { field: "publish.chids", reason: expect.stringContaining("the selection includes WINDOWS_v63_X64") },
    ]);
    const { label } = expanded({ destination: "windowsUpdate", hardwareIds: { ...noExtension, exclude: [{ osCode: "WINDOWS_v63_*" }] }, chids: "allFromMetadata" });
    expect(label.targeting.chids).toEqual([{ chid: CHID_B }, { chid: CHID_A.toLowerCase() }, { chid: CHID_C }]);
    const usbOnly = expanded({ destination: "windowsUpdate", hardwareIds: { include: [{ inf: "contoso_usb.inf" }] }, chids: "allFromMetadata" });
    expect(usbOnly.label.targeting.chids.map((c) => c.chid)).toEqual([CHID_B, CHID_A.toLowerCase()].sort());
  });

  it("refuses allFromMetadata when the selected INFs list no CHIDs", () => {
    expect(problems({ destination: "anotherPartner", receiverPublisherId: "1", hardwareIds: { include: [{ inf: "contoso_ext.inf" }] }, chids: "allFromMetadata" })).toEqual([
      { field: "publish.chids", reason: "is allFromMetadata, but the selected INFs list no InstallationComputerHardwareIds" },
    ]);
  });

  it("allows an extension INF only as an automatic update", () => {
    expect(problems({ destination: "windowsUpdate" })).toEqual([
      { field: "publish.hardwareIds", reason: expect.stringContaining("extension INF(s) contoso_ext.inf, which can only be published as an automatic update") },
    ]);
    const { label } = expanded({ destination: "windowsUpdate", autoInstallOnApplicableSystems: true, approval });
    expect(label.publishingSpecifications).toMatchObject({ isAutoInstallOnApplicableSystems: true, manualAcquisition: false, additionalInfoForMsApproval: { ...approval, isRebootRequired: false } });
    // Sharing is not publishing: no rule.
    expect(expanded({ destination: "anotherPartner", receiverPublisherId: "1" }).summary.extensionInfs).toEqual(["contoso_ext.inf"]);
  });

  it("sends an attestation-signed driver to Windows Update only for test audiences", () => {
    const attestation = { submission: { productName: "Contoso USB", testHarness: "attestation" as const } };
    // No audiences given: the Test Registry Key audience is filled in.
    expect(expanded({ destination: "windowsUpdate", hardwareIds: noExtension }, attestation).label.targeting.restrictedToAudiences).toEqual([TEST_REGISTRY_KEY]);
    expect(problems({ destination: "windowsUpdate", hardwareIds: noExtension, audiences: [RETAIL_AUDIENCE] }, attestation)).toEqual([
      { field: "publish.audiences.0", reason: expect.stringContaining("is not a test audience") },
    ]);
    expect(problems({ destination: "windowsUpdate", hardwareIds: noExtension }, { ...attestation, audiences: [audiences[0]!] })).toEqual([
      { field: "publish.audiences", reason: expect.stringContaining('lists no "Test Registry Key"') },
    ]);
    expect(problems({ destination: "windowsUpdate", hardwareIds: noExtension }, { ...attestation, audiences: undefined })[0]!.field).toBe("publish.audiences");
    // HLK-signed drivers may go anywhere; an unknown audience id is still refused.
    expect(expanded({ destination: "windowsUpdate", hardwareIds: noExtension, audiences: [RETAIL_AUDIENCE] }).label.targeting.restrictedToAudiences).toEqual([RETAIL_AUDIENCE]);
    expect(problems({ destination: "windowsUpdate", hardwareIds: noExtension, audiences: ["nope"] })).toEqual([
      { field: "publish.audiences.0", reason: "is not an audience id listed by GET /hardware/audiences" },
    ]);
  });
});

describe("expandPolicy: the label body", () => {
  it("defaults the name from the product and the highest driver version, or the given version", () => {
    expect(expanded({ destination: "anotherPartner", receiverPublisherId: "1" }).label.name).toBe("Contoso USB 2.3.10.0");
    expect(expanded({ destination: "anotherPartner", receiverPublisherId: "1", hardwareIds: { include: [{ inf: "contoso_usb.inf" }] } }).label.name).toBe("Contoso USB 2.3.1.0");
    expect(expanded({ destination: "anotherPartner", receiverPublisherId: "1" }, { submission: { productName: "P", testHarness: "hlk", version: "9.9" } }).label.name).toBe("P 9.9");
    expect(expanded({ destination: "anotherPartner", receiverPublisherId: "1", name: "Mine" }).label.name).toBe("Mine");
  });

  it("builds publishing specifications, floor/ceiling and co-engineering info", () => {
    const { label } = expanded({
      destination: "windowsUpdate",
      hardwareIds: { include: [{ inf: "contoso_usb.inf" }] },
      floor: "RS5",
      ceiling: "NI",
      goLiveDate: "2026-12-07T00:00:00Z",
      visibleToAccounts: ["27691110", "1234"],
      isDisclosureRestricted: true,
    });
    expect(label.publishingSpecifications).toEqual({
      goLiveDate: "2026-12-07T00:00:00Z",
      visibleToAccounts: [1234, 27691110],
      isAutoInstallDuringOSUpgrade: false,
      isAutoInstallOnApplicableSystems: false,
      manualAcquisition: true,
      isDisclosureRestricted: true,
      publishToWindows10s: false,
    });
    expect(label.targeting.inServicePublishInfo).toEqual({ flooring: "RS5", ceiling: "NI" });
    const co = expanded({ destination: "windowsUpdate", hardwareIds: { include: [{ inf: "contoso_usb.inf" }] }, coEngineering: { floorBuildNumber: "22621" } });
    expect(co.label.targeting.coEngDriverPublishInfo).toEqual({ flooringBuildNumber: "22621" });
    expect(co.label.targeting.inServicePublishInfo).toBeUndefined();
  });

  it("is deterministic whatever the metadata's key order", () => {
    const reversed = JSON.parse(JSON.stringify(metadata, (_key, value) => (value && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value)));
    const policy: PublishPolicy = { destination: "anotherPartner", receiverPublisherId: "1", chids: "allFromMetadata", hardwareIds: { include: [{ inf: "contoso_usb.inf" }] } };
    expect(expanded(policy, { metadata: reversed })).toEqual(expanded(policy));
  });
});

describe("globMatches", () => {
  it.each([
    ["usb\\vid_*", "USB\\VID_045E&PID_0001", true],
    ["*", "", true],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["*_co_*", "WINDOWS_v100_X64_CO_FULL", true],
    ["windows_v100_*_full", "WINDOWS_v100_X64_RS5_FULL", true],
    ["windows_v100_*_full", "WINDOWS_v63_X64", false],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxbyy", false],
  ])("%s ~ %s → %s", (pattern, text, expected) => {
    expect(globMatches(pattern, text)).toBe(expected);
  });

  it("stays fast on hostile patterns", () => {
    const started = Date.now();
    expect(globMatches(`${"*a".repeat(100)}b`, "a".repeat(2000))).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
