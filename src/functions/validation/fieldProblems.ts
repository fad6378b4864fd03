/** Turning validation failures into the 400 body users see: every bad field by name, with the reason. */
import type { HttpResponseInit } from "@azure/functions";
import type { z } from "zod";

export interface FieldProblem {
  field: string;
  reason: string;
}

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

export function invalidRequest(problems: FieldProblem[]): HttpResponseInit {
  return { status: 400, jsonBody: { error: "invalid request", fields: problems } };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };
