/** The publish examples in the README are valid and expand against the emulator's driver metadata. */
import * as fs from "node:fs";
import * as path from "node:path";
import { emulatedDriverMetadata, EMULATED_AUDIENCES } from "../../../local/emulators/shippingLabels";
import { expandPolicy } from "../../../src/publishing/expandPolicy";
import { parsePublishPolicy } from "../../../src/publishing/policySchema";

const readme = fs.readFileSync(path.join(__dirname, "../../../README.md"), "utf8");
const section = readme.slice(readme.indexOf("### Publish after signing"), readme.indexOf("### Sidecar / product fields"));
const metadata = emulatedDriverMetadata("1152921504621465131", ["WINDOWS_v100_X64_RS5_FULL"]);

test("the Windows Update example parses and expands (Windows 10 ids only, CHIDs from the metadata)", () => {
  const block = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  const policy = parsePublishPolicy((JSON.parse(block!) as { publish: unknown }).publish);
  expect(policy.ok).toBe(true);
  if (!policy.ok) return;
  const expanded = expandPolicy({ policy: policy.value, metadata, submission: { productName: "Contoso USB", testHarness: "hlk" }, audiences: EMULATED_AUDIENCES });
  expect(expanded.ok).toBe(true);
  if (!expanded.ok) return;
  expect(expanded.value.label.targeting.hardwareIds.every((id) => /^WINDOWS_v100_/.test(id.operatingSystemCode))).toBe(true);
  expect(expanded.value.summary.chids).toBeGreaterThan(0);
  expect(expanded.value.label.publishingSpecifications).toMatchObject({ manualAcquisition: false, isAutoInstallOnApplicableSystems: true });
});

test("the partner example parses as written", () => {
  const inline = /`\{ "publish": \{ "destination": "anotherPartner",\s*"receiverPublisherId": "27691110" \} \}`/.exec(section)?.[0];
  expect(inline).toBeDefined();
  const policy = parsePublishPolicy((JSON.parse(inline!.slice(1, -1).replace(/\s+/g, " ")) as { publish: unknown }).publish);
  expect(policy.ok).toBe(true);
});
