/**
 * Matching of Functions route templates ("submissions/{id}", "files/{*rest}", "{id:int?}") against a
 * request path, the subset of ASP.NET routing the app uses plus optional and catch-all parameters.
 */

export interface RouteMatch {
  params: Record<string, string>;
}

interface Segment {
  literal?: string;
  param?: string;
  optional?: boolean;
  catchAll?: boolean;
}

export class RouteTemplate {
  private readonly segments: Segment[];

  constructor(readonly template: string) {
    this.segments = template
      .split("/")
      .filter((s) => s.length > 0)
      .map(parseSegment);
  }

  /** Literal segments first: "submissions/{id}/cancel" is tried before "submissions/{id}/{action}". */
  get specificity(): number {
    return this.segments.filter((s) => s.literal !== undefined).length * 100 + this.segments.length;
  }

  match(pathSegments: string[]): RouteMatch | undefined {
    const params: Record<string, string> = {};
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i];
      const value = pathSegments[i];
      if (segment.catchAll) {
        if (segment.param) params[segment.param] = pathSegments.slice(i).join("/");
        return { params };
      }
      if (value === undefined) {
        if (segment.optional && this.segments.slice(i).every((s) => s.optional || s.catchAll)) return { params };
        return undefined;
      }
      if (segment.literal !== undefined) {
        if (segment.literal.toLowerCase() !== value.toLowerCase()) return undefined;
      } else if (segment.param) {
        params[segment.param] = value;
      }
    }
    return pathSegments.length === this.segments.length ? { params } : undefined;
  }
}

function parseSegment(raw: string): Segment {
  const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]+)?(\?)?\}$/.exec(raw);
  if (!param) return { literal: raw };
  return { param: param[2], catchAll: param[1] === "*", optional: param[3] === "?" };
}

/** Splits a URL path into decoded segments ("/a/b%20c/" → ["a", "b c"]). */
export function pathSegmentsOf(pathname: string): string[] {
  return pathname
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}
