/**
 * The validation vocabulary shared by every layer that checks input (triggers, publishing policy,
 * preflight): one problem per bad field, by name, with the reason.
 */
import type { z } from "zod";

export interface FieldProblem {
  field: string;
  reason: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

const fieldName = (path: ReadonlyArray<PropertyKey>) => path.map(String).join(".");

/** One problem per bad field; unknown keys are listed one by one. */
export function problemsFromZod(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) problems.push({ field: fieldName([...path, key]), reason: "is not a recognized field" });
      continue;
    }
    const missing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
    problems.push({ field: fieldName(path) || "body", reason: missing ? "is required" : issue.message });
  }
  return problems;
}
