/**
 * Makes `require("@azure/functions-core")` resolve to the stand-in. Must run before anything imports
 * `@azure/functions` (it caches a failed lookup and then drops registrations in "test mode").
 */
import Module = require("node:module");
import * as path from "node:path";

const STAND_IN = path.join(__dirname, "coreStandIn");
type Resolve = (request: string, ...rest: unknown[]) => string;
const moduleWithResolver = Module as unknown as { _resolveFilename: Resolve };
const original = moduleWithResolver._resolveFilename;
if (!(original as Resolve & { standIn?: boolean }).standIn) {
  const patched: Resolve & { standIn?: boolean } = function (this: unknown, request: string, ...rest: unknown[]) {
    return original.call(this, request === "@azure/functions-core" ? require.resolve(STAND_IN) : request, ...rest);
  };
  patched.standIn = true;
  moduleWithResolver._resolveFilename = patched;
}

export { getRegisteredFunctions, triggerOf } from "./coreStandIn";
