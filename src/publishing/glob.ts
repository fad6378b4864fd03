/**
 * Case-insensitive glob matching (`*` any run, `?` one character) for hardware-id rules. A
 * two-pointer matcher rather than a generated RegExp: user patterns never reach the regex engine,
 * so no pattern can make matching slow (worst case length(pattern) × length(text)).
 */
export function globMatches(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let pi = 0;
  let ti = 0;
  let starAt = -1;
  let matchedFrom = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] === "*") {
      starAt = pi++;
      matchedFrom = ti;
    } else if (pi < p.length && (p[pi] === "?" || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (starAt >= 0) {
      pi = starAt + 1;
      ti = ++matchedFrom;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}
