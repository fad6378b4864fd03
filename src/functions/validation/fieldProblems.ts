/** Turning validation failures into the 400 body users see: every bad field by name, with the reason. */
import type { HttpResponseInit } from "@azure/functions";
import type { FieldProblem } from "../../domain/validation";

export { type FieldProblem, type Parsed, problemsFromZod } from "../../domain/validation";

export function invalidRequest(problems: FieldProblem[]): HttpResponseInit {
  return { status: 400, jsonBody: { error: "invalid request", fields: problems } };
}
