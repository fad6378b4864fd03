/** The few host.json values the local runtime honours (hub name, route prefix). */
import * as fs from "node:fs";
import { HOST_JSON } from "./paths";

export interface HostSettings {
  hubName: string;
  routePrefix: string;
  maxConcurrentActivityFunctions: number;
}

export function readHostSettings(file = HOST_JSON): HostSettings {
  let json: {
    extensions?: {
      durableTask?: { hubName?: string; maxConcurrentActivityFunctions?: number };
      http?: { routePrefix?: string };
    };
  } = {};
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8")) as typeof json;
  } catch {
    /* no host.json: Functions defaults */
  }
  return {
    hubName: json.extensions?.durableTask?.hubName ?? "TestHubName",
    routePrefix: json.extensions?.http?.routePrefix ?? "api",
    maxConcurrentActivityFunctions: json.extensions?.durableTask?.maxConcurrentActivityFunctions ?? 10,
  };
}
