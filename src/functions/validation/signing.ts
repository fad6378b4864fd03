/**
 * The `signing` field of POST /api/submissions and of a drop's sidecar (issue 40): absent = a product
 * submission (today's path); "preproduction" = Microsoft's preproduction signing; anything else is
 * refused with a 400 / a rejected drop naming `signing`.
 */
import { z } from "zod";
import type { FieldProblem } from "./fieldProblems";

export const signingSchema = z.literal("preproduction", { error: 'must be "preproduction", or left out for a product submission' });

/** Fields that mean nothing to a preprod run: naming them with `signing` is a mistake, said so. */
export function preprodCombinationProblems(fields: Record<string, unknown>): FieldProblem[] {
  if (fields.signing !== "preproduction") return [];
  const ignoredByPreprod = ["productId", "submissionId", "publish", "submissionType"].filter((field) => fields[field] !== undefined);
  return ignoredByPreprod.map((field) => ({
    field: "signing",
    reason: `"preproduction" cannot be combined with ${field}: a preprod package has no product, submission or shipping label`,
  }));
}
