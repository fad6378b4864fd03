/**
 * The emulators' control API, under /_emulator/ on the Hardware Dev Center port (plain HTTP, so a
 * test or benchmark process needs no CA trust to drive it; also reachable over HTTPS):
 *   GET  /_emulator/requests        request log {entries, counts}
 *   GET  /_emulator/state           clock, behaviour, armed faults, products/submissions and preprod packages summary
 *   GET  /_emulator/behaviour       current behaviour
 *   POST /_emulator/behaviour       partial behaviour (JSON merge; `faults` replaces the list)
 *   POST /_emulator/clock           {now: ISO} (forward only) or {advanceSeconds}
 *   POST /_emulator/revoke-tokens   every issued token becomes invalid
 *   POST /_emulator/reset           forget products, submissions, blobs and the request log
 */
import type { HdcBehaviour, HdcBehaviourPatch } from "./hdcBehaviour";
import type { ProductSummary } from "./hdcEmulator";
import type { PreprodSummary } from "./preprod";
import { EmulatorHandler, EmulatorResponse, jsonResponse } from "./httpServer";
import type { RequestLogSnapshot } from "./requestLog";
import type { ArmedFault } from "./trafficShaping";

export const CONTROL_PATH = "/_emulator/";

export interface EmulatorsState {
  now: string;
  behaviour: HdcBehaviour;
  faults: ArmedFault[];
  products: ProductSummary[];
  /** Preproduction packages received (section f of the API notes). */
  preprodPackages: PreprodSummary[];
}

/** What the control API (and the in-process handle) can do to the emulators. */
export interface EmulatorControl {
  requests(): RequestLogSnapshot;
  state(): EmulatorsState;
  behaviour(): HdcBehaviour;
  configure(patch: HdcBehaviourPatch): HdcBehaviour;
  setClock(iso: string): string;
  advanceClock(seconds: number): string;
  revokeAllTokens(): void;
  reset(): Promise<void>;
}

const control = (status: number, value: unknown): EmulatorResponse => ({ ...jsonResponse(status, "control", value), unlogged: true });

export function createControlHandler(target: EmulatorControl): EmulatorHandler {
  return async (request) => {
    const route = `${request.method} ${request.path.slice(CONTROL_PATH.length).replace(/\/+$/, "")}`;
    let body: Record<string, unknown> = {};
    if (request.body.length > 0) {
      try {
        body = JSON.parse(request.body.toString("utf8")) as Record<string, unknown>;
      } catch {
        return control(400, { error: "body must be JSON" });
      }
    }
    try {
      switch (route) {
        case "GET requests":
          return control(200, target.requests());
        case "GET state":
          return control(200, target.state());
        case "GET behaviour":
          return control(200, target.behaviour());
        case "POST behaviour":
          return control(200, target.configure(body as HdcBehaviourPatch));
        case "POST clock":
          if (typeof body.now === "string") return control(200, { now: target.setClock(body.now) });
          if (typeof body.advanceSeconds === "number") return control(200, { now: target.advanceClock(body.advanceSeconds) });
          return control(400, { error: "send {now: ISO} or {advanceSeconds: number}" });
        case "POST revoke-tokens":
          target.revokeAllTokens();
          return control(200, { revoked: true });
        case "POST reset":
          await target.reset();
          return control(200, { reset: true });
        default:
          return control(404, { error: `no control route ${route}` });
      }
    } catch (error) {
      return control(400, { error: (error as Error).message });
    }
  };
}

/** The control API from another process (tests, benchmarks, the local runtime's virtual clock). */
export class EmulatorControlClient {
  private readonly base: string;

  constructor(controlUrl: string) {
    this.base = controlUrl.endsWith("/") ? controlUrl : `${controlUrl}/`;
  }

  private async call<T>(method: "GET" | "POST", route: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(route, this.base), {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Emulator control ${method} ${route} failed with ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  requests(): Promise<RequestLogSnapshot> {
    return this.call("GET", "requests");
  }
  state(): Promise<EmulatorsState> {
    return this.call("GET", "state");
  }
  behaviour(): Promise<HdcBehaviour> {
    return this.call("GET", "behaviour");
  }
  configure(patch: HdcBehaviourPatch): Promise<HdcBehaviour> {
    return this.call("POST", "behaviour", patch);
  }
  async setClock(iso: string): Promise<string> {
    return (await this.call<{ now: string }>("POST", "clock", { now: iso })).now;
  }
  async advanceClock(seconds: number): Promise<string> {
    return (await this.call<{ now: string }>("POST", "clock", { advanceSeconds: seconds })).now;
  }
  async revokeAllTokens(): Promise<void> {
    await this.call("POST", "revoke-tokens");
  }
  async reset(): Promise<void> {
    await this.call("POST", "reset");
  }
}
