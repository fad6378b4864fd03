/**
 * A small client of the app's own HTTP API (/api/submissions...), shared by the demo and the e2e
 * tests. It reads the status body loosely (stage/runtimeStatus at the top level or under
 * customStatus) so a reshaped response breaks one function here, not every caller.
 * The API is function-level: every call sends the host function key as `x-functions-key`.
 */
import type { SubmissionCustomStatus } from "../../src/domain/types";

export interface SubmissionView {
  httpStatus: number;
  id?: string;
  runtimeStatus?: string;
  stage?: string;
  custom: Partial<SubmissionCustomStatus>;
  output?: unknown;
  raw: Record<string, unknown>;
}

const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

export function isTerminal(view: SubmissionView): boolean {
  return view.runtimeStatus !== undefined && TERMINAL.has(view.runtimeStatus);
}

export class SubmissionsClient {
  /** `functionKey`: the host's default function key (Stack.functionKey, or functionKeys.default of keys.json). */
  constructor(
    readonly apiUrl: string,
    private readonly functionKey: string,
  ) {}

  private send(url: string, init: RequestInit = {}): Promise<Response> {
    return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), "x-functions-key": this.functionKey } });
  }

  statusUrl(id: string): string {
    return `${this.apiUrl}/submissions/${encodeURIComponent(id)}`;
  }

  async get(id: string): Promise<SubmissionView> {
    const response = await this.send(this.statusUrl(id));
    return toView(response.status, await readJson(response));
  }

  /** Every submission: follows the API's pages (`items` + `continuationToken`), at most `maxPages` of them. */
  async list(query: Record<string, string> = {}, maxPages = 100): Promise<SubmissionView[]> {
    const views: SubmissionView[] = [];
    let token: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const body = await this.listPage({ ...query, ...(token ? { continuationToken: token } : {}) });
      views.push(...body.items);
      token = body.continuationToken;
      if (!token) break;
    }
    return views;
  }

  /** One page of GET /api/submissions (top, continuationToken, status, createdFrom, createdTo, package). */
  async listPage(query: Record<string, string> = {}): Promise<{ items: SubmissionView[]; continuationToken?: string }> {
    const search = new URLSearchParams(query).toString();
    const response = await this.send(`${this.apiUrl}/submissions${search ? `?${search}` : ""}`);
    if (!response.ok) throw new Error(`GET /api/submissions answered ${response.status}`);
    const body = await readJson(response);
    const items = Array.isArray(body.items) ? body.items : Array.isArray(body.submissions) ? body.submissions : [];
    return {
      items: (items as Record<string, unknown>[]).map((item) => toView(200, item)),
      continuationToken: typeof body.continuationToken === "string" ? body.continuationToken : undefined,
    };
  }

  async start(body: unknown): Promise<{ httpStatus: number; id?: string; raw: Record<string, unknown> }> {
    const response = await this.send(`${this.apiUrl}/submissions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const raw = await readJson(response);
    return { httpStatus: response.status, id: idOf(raw), raw };
  }

  async cancel(id: string): Promise<number> {
    const response = await this.send(`${this.statusUrl(id)}/cancel`, { method: "POST" });
    await response.arrayBuffer();
    return response.status;
  }

  /** Waits for the submission of a dropped blob to appear in the list; returns its id. */
  async findByBlob(blobName: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = (await this.list()).find((view) => view.custom.package?.blobName === blobName || JSON.stringify(view.raw).includes(blobName));
      if (match?.id) return match.id;
      if (Date.now() > deadline) throw new Error(`No submission for ${blobName} within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Polls until `done(view)` (throws if the submission ends first); calls onChange whenever the view changes. */
  async waitFor(
    id: string,
    done: (view: SubmissionView) => boolean,
    options: { timeoutMs: number; intervalMs?: number; onChange?: (view: SubmissionView) => void },
  ): Promise<SubmissionView> {
    const deadline = Date.now() + options.timeoutMs;
    let previous = "";
    for (;;) {
      const view = await this.get(id);
      const fingerprint = JSON.stringify([view.runtimeStatus, view.stage, view.custom.currentStep, view.custom.state]);
      if (fingerprint !== previous) {
        previous = fingerprint;
        options.onChange?.(view);
      }
      if (done(view)) return view;
      if (isTerminal(view)) throw new Error(`Submission ${id} ended (${view.runtimeStatus}) before getting there: ${JSON.stringify(view.raw)}`);
      if (Date.now() > deadline) throw new Error(`Submission ${id} did not get there within ${options.timeoutMs} ms; last: ${JSON.stringify(view.raw)}`);
      await sleep(options.intervalMs ?? 200);
    }
  }
}

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? ({ items: parsed } as Record<string, unknown>) : (parsed as Record<string, unknown>);
  } catch {
    return { text };
  }
}

function idOf(raw: Record<string, unknown>): string | undefined {
  for (const key of ["id", "instanceId", "submissionId"]) if (typeof raw[key] === "string") return raw[key] as string;
  return undefined;
}

function toView(httpStatus: number, raw: Record<string, unknown>): SubmissionView {
  const nested = (raw.customStatus && typeof raw.customStatus === "object" ? raw.customStatus : {}) as Partial<SubmissionCustomStatus>;
  const custom = { ...nested, ...(raw as Partial<SubmissionCustomStatus>) };
  const runtimeStatus = typeof raw.runtimeStatus === "string" ? raw.runtimeStatus : typeof raw.status === "string" ? raw.status : undefined;
  return {
    httpStatus,
    id: idOf(raw),
    runtimeStatus,
    stage: typeof custom.stage === "string" ? custom.stage : undefined,
    custom,
    output: raw.output,
    raw,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
