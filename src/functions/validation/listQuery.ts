/** ?status=Running,Completed… for GET /api/submissions. */
import type { FieldProblem, Parsed } from "./fieldProblems";

export const RUNTIME_STATUSES = ["Running", "Completed", "ContinuedAsNew", "Failed", "Canceled", "Terminated", "Pending", "Suspended"] as const;
export type RuntimeStatusName = (typeof RUNTIME_STATUSES)[number];

/** Case-insensitive names, comma separated; empty or absent means all. */
export function parseStatusFilter(raw: string | null): Parsed<RuntimeStatusName[]> {
  if (raw === null || raw.trim() === "") return { ok: true, value: [] };
  const wanted: RuntimeStatusName[] = [];
  const problems: FieldProblem[] = [];
  for (const part of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    const match = RUNTIME_STATUSES.find((name) => name.toLowerCase() === part.toLowerCase());
    if (match) {
      if (!wanted.includes(match)) wanted.push(match);
    } else {
      problems.push({ field: "status", reason: `"${part.slice(0, 40)}" is not one of ${RUNTIME_STATUSES.join(", ")}` });
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: wanted };
}
