/**
 * Product fields a user may supply (HTTP body `product`, or a `<package>.json` sidecar). All optional:
 * missing ones come from configuration defaults and the package's name and extension.
 */
import { z } from "zod";
import { signingSchema } from "./signing";
import type { ProductFields, TestHarness } from "../../domain/types";
import { CONTROL_CHARACTERS } from "../../domain/packageRules";

// eslint-disable-next-line no-control-regex
const noControlCharacters = (value: string) => !CONTROL_CHARACTERS.test(value);
const text = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine(noControlCharacters, "must not contain control characters");

/**
 * Bounds on what a user may send (HTTP body or sidecar). The product fields travel in the orchestration
 * input, in history and in the create-product call; with these bounds the largest valid request keeps
 * the orchestration input well under 16 KB (test/unit/functions/validation.test.ts proves it).
 */
export const PRODUCT_LIMITS = {
  /** requestedSignatures, marketingNames, deviceMetadataIds: items each. */
  maxListItems: 64,
  maxSignatureLength: 128,
  maxMarketingNameLength: 256,
  maxDeviceMetadataIdLength: 128,
  maxSelectedProductTypes: 64,
  maxAdditionalAttributes: 32,
  maxAdditionalAttributesBytes: 4 * 1024,
  /** All product fields together, serialized as JSON (UTF-8 bytes). */
  maxProductBytes: 8 * 1024,
  /**
   * Nesting of the free-form `additionalAttributes` values (an attribute's own array or object is
   * level 1). Product attributes are flat or nearly so; 32 leaves room for any real one, and is
   * checked without recursion before anything serializes the value (JSON.stringify recurses, and a
   * 64 KiB body can nest 30,000 deep: a RangeError, i.e. a 500).
   */
  maxAdditionalAttributeDepth: 32,
} as const;

/**
 * The path to the first place `value` nests deeper than `maxDepth` arrays/objects, or undefined.
 * Iterative, and stops there: it never walks more than the allowed depth down any branch.
 */
export function nestingTooDeep(value: unknown, maxDepth: number): PropertyKey[] | undefined {
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (path.length >= maxDepth) return path;
    const entries = Array.isArray(current) ? current.map((item, index) => [index, item] as const) : Object.entries(current);
    for (const [key, item] of entries) if (item !== null && typeof item === "object") stack.push({ value: item, path: [...path, key] });
  }
  return undefined;
}

const list = (item: z.ZodType<string>, what: string) =>
  z
    .array(item, { error: `must be an array of ${what}` })
    .max(PRODUCT_LIMITS.maxListItems, `must have at most ${PRODUCT_LIMITS.maxListItems} items`);

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
/** Every free-form value within the depth bound (whatever its path), so jsonBytes cannot overflow the stack. */
const withinDepth = (value: unknown) => nestingTooDeep(value, PRODUCT_LIMITS.maxAdditionalAttributeDepth + 2) === undefined;

const productShape = {
  productName: text(256).optional(),
  testHarness: z.enum(["hlk", "hck", "attestation", "notset"], { error: "must be one of hlk, hck, attestation, notset" }).optional(),
  announcementDate: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time, e.g. 2025-01-01T00:00:00Z" }).optional(),
  deviceMetadataIds: list(text(PRODUCT_LIMITS.maxDeviceMetadataIdLength), "strings").optional(),
  firmwareVersion: text(64).optional(),
  deviceType: z
    .enum(["internal", "external", "internalExternal", "notSet"], { error: "must be one of internal, external, internalExternal, notSet" })
    .optional(),
  isTestSign: z.boolean({ error: "must be true or false" }).optional(),
  isFlightSign: z.boolean({ error: "must be true or false" }).optional(),
  marketingNames: list(text(PRODUCT_LIMITS.maxMarketingNameLength), "strings").optional(),
  selectedProductTypes: z
    .record(text(128), text(256), { error: "must be an object of strings" })
    .refine((value) => Object.keys(value).length <= PRODUCT_LIMITS.maxSelectedProductTypes, {
      message: `must have at most ${PRODUCT_LIMITS.maxSelectedProductTypes} entries`,
    })
    .optional(),
  requestedSignatures: list(text(PRODUCT_LIMITS.maxSignatureLength), "strings")
    .min(1, "must name at least one signature")
    .optional(),
  additionalAttributes: z
    .record(z.string().max(128, "keys must be at most 128 characters"), z.unknown(), { error: "must be an object" })
    .refine((value) => Object.keys(value).length <= PRODUCT_LIMITS.maxAdditionalAttributes, {
      message: `must have at most ${PRODUCT_LIMITS.maxAdditionalAttributes} keys`,
    })
    .superRefine((value, ctx) => {
      // Depth first: only a value within the bound is serialized to measure it.
      for (const [key, attribute] of Object.entries(value)) {
        const tooDeep = nestingTooDeep(attribute, PRODUCT_LIMITS.maxAdditionalAttributeDepth);
        if (tooDeep) {
          ctx.addIssue({ code: "custom", path: [key], message: `must nest at most ${PRODUCT_LIMITS.maxAdditionalAttributeDepth} arrays/objects deep` });
          return;
        }
      }
      if (jsonBytes(value) > PRODUCT_LIMITS.maxAdditionalAttributesBytes) {
        ctx.addIssue({ code: "custom", message: `must be at most ${PRODUCT_LIMITS.maxAdditionalAttributesBytes} bytes as JSON` });
      }
    })
    .optional(),
};

/** Each field within its bounds can still add up: the product as a whole has a size limit too. */
function productWithinTotal(fields: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const product = Object.fromEntries(Object.keys(productShape).filter((key) => key in fields).map((key) => [key, fields[key]]));
  // A too-deep value is already named by its own field; measuring it would overflow the stack.
  if (!withinDepth(product)) return;
  const bytes = jsonBytes(product);
  if (bytes > PRODUCT_LIMITS.maxProductBytes) {
    ctx.addIssue({ code: "custom", path: [], message: `product fields must be at most ${PRODUCT_LIMITS.maxProductBytes} bytes as JSON together (got ${bytes})` });
  }
}

export const productFieldsSchema = z.strictObject(productShape).superRefine(productWithinTotal);
export type ProductFieldOverrides = z.infer<typeof productFieldsSchema>;

export const submissionNameSchema = text(256);
export const submissionTypeSchema = z.enum(["initial", "derived"], { error: "must be initial or derived" });

/** A sidecar is the product fields plus the submission's name and type, all at the top level. */
export const sidecarSchema = z
  .strictObject({
    ...productShape,
    submissionName: submissionNameSchema.optional(),
    submissionType: submissionTypeSchema.optional(),
    /** Publish after signing; checked by parsePublishPolicy in packageDropped (publish.<field> problems). */
    publish: z.unknown().optional(),
    /** Preproduction signing (issue 40); absent = a product submission. */
    signing: signingSchema.optional(),
  })
  .superRefine(productWithinTotal);
export type Sidecar = z.infer<typeof sidecarSchema>;

export interface ProductDefaults {
  requestedSignatures: string[];
  selectedProductTypes: Record<string, string>;
  deviceType: ProductFields["deviceType"];
  firmwareVersion: string;
}

/** User values over configured defaults; the name and harness follow the package when not given. */
export function completeProductFields(
  overrides: ProductFieldOverrides | undefined,
  defaults: ProductDefaults,
  packageDerived: { productName: string; testHarness: TestHarness },
): ProductFields {
  const given = overrides ?? {};
  const fields: ProductFields = {
    ...given,
    productName: given.productName ?? packageDerived.productName,
    testHarness: given.testHarness ?? packageDerived.testHarness,
    requestedSignatures: given.requestedSignatures ?? defaults.requestedSignatures,
    selectedProductTypes: given.selectedProductTypes ?? defaults.selectedProductTypes,
    deviceType: given.deviceType ?? defaults.deviceType,
    firmwareVersion: given.firmwareVersion ?? defaults.firmwareVersion,
  };
  return fields;
}
