/**
 * Product fields a user may supply (HTTP body `product`, or a `<package>.json` sidecar). All optional:
 * missing ones come from configuration defaults and the package's name and extension.
 */
import { z } from "zod";
import type { ProductFields, TestHarness } from "../../domain/types";
import { CONTROL_CHARACTERS } from "../../shared/packageRules";

// eslint-disable-next-line no-control-regex
const noControlCharacters = (value: string) => !CONTROL_CHARACTERS.test(value);
const text = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .refine(noControlCharacters, "must not contain control characters");

export const productFieldsSchema = z.strictObject({
  productName: text(256).optional(),
  testHarness: z.enum(["hlk", "hck", "attestation", "notset"], { error: "must be one of hlk, hck, attestation, notset" }).optional(),
  announcementDate: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time, e.g. 2025-01-01T00:00:00Z" }).optional(),
  deviceMetadataIds: z.array(text(128), { error: "must be an array of strings" }).optional(),
  firmwareVersion: text(64).optional(),
  deviceType: z
    .enum(["internal", "external", "internalExternal", "notSet"], { error: "must be one of internal, external, internalExternal, notSet" })
    .optional(),
  isTestSign: z.boolean({ error: "must be true or false" }).optional(),
  isFlightSign: z.boolean({ error: "must be true or false" }).optional(),
  marketingNames: z.array(text(256), { error: "must be an array of strings" }).optional(),
  selectedProductTypes: z.record(text(128), text(256), { error: "must be an object of strings" }).optional(),
  requestedSignatures: z
    .array(text(128), { error: "must be an array of strings" })
    .min(1, "must name at least one signature")
    .optional(),
  additionalAttributes: z.record(z.string(), z.unknown(), { error: "must be an object" }).optional(),
});
export type ProductFieldOverrides = z.infer<typeof productFieldsSchema>;

export const submissionNameSchema = text(256);
export const submissionTypeSchema = z.enum(["initial", "derived"], { error: "must be initial or derived" });

/** A sidecar is the product fields plus the submission's name and type, all at the top level. */
export const sidecarSchema = productFieldsSchema.extend({
  submissionName: submissionNameSchema.optional(),
  submissionType: submissionTypeSchema.optional(),
});
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
