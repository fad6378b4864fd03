/**
 * Who owns a package dropped into storage (Event Grid → packageDropped) when no upload URL says so:
 * DROP_OWNERS maps a container and blob-name prefix to an owner, written
 * `<container>/<prefix>=<objectId>[:<display name>]`, entries separated by ";". The longest matching
 * prefix wins; a drop no entry matches belongs to nobody, which means to operators only (Sign.Operate).
 */
import { objectIdProblem, type Owner } from "./authorization";
import { containerNameProblem } from "./packageRules";

export interface DropOwnerEntry {
  container: string;
  /** Blob-name prefix inside the container ("" = the whole container). */
  prefix: string;
  owner: Owner;
}

export type DropOwnersParse = { ok: true; entries: DropOwnerEntry[] } | { ok: false; problems: string[] };

export function parseDropOwners(text: string): DropOwnersParse {
  const entries: DropOwnerEntry[] = [];
  const problems: string[] = [];
  const parts = text.split(";").map((part) => part.trim()).filter(Boolean);
  for (const part of parts) {
    const shown = `"${part.slice(0, 80)}"`;
    const eq = part.indexOf("=");
    if (eq < 0) {
      problems.push(`${shown} must be <container>/<prefix>=<objectId>[:<name>]`);
      continue;
    }
    const where = part.slice(0, eq).trim();
    const who = part.slice(eq + 1).trim();
    const slash = where.indexOf("/");
    const container = slash < 0 ? where : where.slice(0, slash);
    const prefix = slash < 0 ? "" : where.slice(slash + 1);
    const colon = who.indexOf(":");
    const objectId = (colon < 0 ? who : who.slice(0, colon)).trim();
    const name = colon < 0 ? undefined : who.slice(colon + 1).trim();
    const before = problems.length;
    const containerProblem = containerNameProblem(container);
    if (containerProblem) problems.push(`${shown}: container "${container.slice(0, 70)}" ${containerProblem}`);
    const idProblem = objectIdProblem(objectId);
    if (idProblem) problems.push(`${shown}: the owner's object id ${idProblem}`);
    if (entries.some((e) => e.container === container && e.prefix === prefix)) problems.push(`${shown}: ${container}/${prefix} is named twice`);
    if (problems.length === before) entries.push({ container, prefix, owner: { objectId, ...(name ? { name } : {}) } });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}

/** The owner of a dropped blob: the entry with the longest prefix of its name in its container. */
export function dropOwnerFor(entries: readonly DropOwnerEntry[], container: string, blobName: string): Owner | undefined {
  let best: DropOwnerEntry | undefined;
  for (const entry of entries) {
    if (entry.container !== container || !blobName.startsWith(entry.prefix)) continue;
    if (!best || entry.prefix.length > best.prefix.length) best = entry;
  }
  return best?.owner;
}
