/**
 * Stand-in for `@azure/functions-core`, the module only the real Functions worker provides.
 * `@azure/functions` registers every app.http / app.eventGrid / df.app.* call through it; here we
 * keep the binding metadata and the real handler so the local runtime (and tests) can invoke them.
 */

export interface CapturedBinding {
  type: string;
  direction: "in" | "out" | "inout";
  name?: string;
  [option: string]: unknown;
}

export interface CapturedFunction {
  name: string;
  bindings: Record<string, CapturedBinding>;
  /** The handler exactly as registered (df wrappers included): (triggerInput, InvocationContext) => result. */
  handler: (...args: unknown[]) => unknown;
}

const registry = new Map<string, CapturedFunction>();

export function registerFunction(metadata: { name: string; bindings: Record<string, CapturedBinding> }, handler: (...args: unknown[]) => unknown) {
  if (registry.has(metadata.name)) throw new Error(`Function "${metadata.name}" is registered twice`);
  registry.set(metadata.name, { name: metadata.name, bindings: metadata.bindings, handler });
  return { dispose: () => registry.delete(metadata.name) };
}

export function setProgrammingModel(): void {
  /* the stand-in invokes handlers directly; no programming model needed */
}

export function registerHook() {
  return { dispose() {} };
}

export function log(level: string, category: string, message: string): void {
  if (level === "error" || level === "warning") process.stderr.write(`[functions ${category} ${level}] ${message}\n`);
}

export function getRegisteredFunctions(): Map<string, CapturedFunction> {
  return registry;
}

/** The trigger binding of a captured function (the one whose type ends in "Trigger"). */
export function triggerOf(fn: CapturedFunction): CapturedBinding {
  const trigger = Object.values(fn.bindings).find((b) => b.direction === "in" && /Trigger$/.test(b.type));
  if (!trigger) throw new Error(`Function "${fn.name}" has no trigger binding`);
  return trigger;
}
