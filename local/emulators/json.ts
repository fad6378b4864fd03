/**
 * JSON writing with raw 64-bit integers. Hardware Dev Center sends ids (~1.15e18) as bare JSON
 * numbers beyond 2^53; going through Number would round them, so ids are kept as bigint and
 * written digit for digit.
 */
export function toJson(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? "null" : toJson(item))).join(",")}]`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, field]) => field !== undefined)
    .map(([key, field]) => `${JSON.stringify(key)}:${toJson(field)}`);
  return `{${fields.join(",")}}`;
}

/** The same structure for the control API, where ids are plain strings. */
export function withIdsAsStrings<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_key, field: unknown) => (typeof field === "bigint" ? field.toString() : field)));
}
