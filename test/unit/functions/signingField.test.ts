/** The `signing` field (issue 40) in POST /api/submissions and in a drop's sidecar. */
import { parseStartSubmission } from "../../../src/functions/validation/startSubmission";
import { sidecarSchema } from "../../../src/functions/validation/productFields";

const PACKAGE = "driver-drops/contoso-1.0.0.hlkx";

describe("signing in POST /api/submissions", () => {
  it("absent is a product submission; \"preproduction\" is carried", () => {
    const plain = parseStartSubmission({ package: PACKAGE });
    expect(plain.ok && plain.value.signing).toBe(undefined);
    const preprod = parseStartSubmission({ package: PACKAGE, signing: "preproduction" });
    expect(preprod.ok && preprod.value.signing).toBe("preproduction");
  });

  it.each([["Preproduction"], ["product"], [""], [true], [null], [{ kind: "preproduction" }]])("refuses %p naming signing", (value) => {
    const parsed = parseStartSubmission({ package: PACKAGE, signing: value });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toEqual([{ field: "signing", reason: 'must be "preproduction", or left out for a product submission' }]);
  });

  it("refuses preproduction with product-only fields, naming signing and the other field", () => {
    const parsed = parseStartSubmission({ package: PACKAGE, signing: "preproduction", productId: "14631253285588838", publish: { destination: "windowsUpdate" } });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const signing = parsed.problems.filter((p) => p.field === "signing").map((p) => p.reason);
    expect(signing).toEqual(expect.arrayContaining([expect.stringContaining("productId"), expect.stringContaining("publish")]));
  });
});

describe("signing in a sidecar", () => {
  it("accepts preproduction and refuses anything else", () => {
    expect(sidecarSchema.safeParse({ signing: "preproduction" }).success).toBe(true);
    const bad = sidecarSchema.safeParse({ signing: "test" });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(["signing"]);
  });
});
