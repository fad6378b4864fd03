/**
 * The caller of an HTTP request, read ONLY from the principal App Service Authentication injects
 * (`X-MS-CLIENT-PRINCIPAL`). The platform strips that header from outside requests (the local
 * runtime's Easy Auth emulation does the same), so it is trusted only when the app runs behind it:
 * AUTH_MODE=entra. Every handler gets the caller through `callerOf(context)`.
 */
import type { HttpRequest, InvocationContext } from "@azure/functions";
import { parseClientPrincipal, SIGN_ROLES, type Caller } from "../domain/principal";

export const PRINCIPAL_HEADER = "x-ms-client-principal";

/** With function keys only, nothing tells callers apart: a key-holder holds every role. */
export const KEY_HOLDER: Caller = Object.freeze({
  identityProvider: "functionKey",
  objectId: "function-key-holder",
  name: "function key holder",
  isApplication: false,
  roles: [...SIGN_ROLES],
  signRoles: [...SIGN_ROLES],
});

/** The principal the platform injected, or undefined (absent or malformed). */
export function readCaller(request: Pick<HttpRequest, "headers">): Caller | undefined {
  return parseClientPrincipal(request.headers.get(PRINCIPAL_HEADER));
}

const callers = new WeakMap<InvocationContext, Caller>();

export function attachCaller(context: InvocationContext, caller: Caller): void {
  callers.set(context, caller);
}

/** The caller the gate admitted for this invocation; throws if the handler was not gated. */
export function callerOf(context: InvocationContext): Caller {
  const caller = callers.get(context);
  if (!caller) throw new Error(`No caller for invocation ${context.invocationId}: the HTTP function was registered without the caller gate`);
  return caller;
}
