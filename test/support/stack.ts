/**
 * Test-side helpers around local/stack.ts: one stack per test file, package drops with distinct
 * names, emulator record counts, and the "nothing secret" check.
 */
import { samplePackage } from "../../local/samplePackage";
import { APP_CONTAINERS, startStack, type Stack, type StackOptions } from "../../local/stack";
import { isTerminal, SubmissionsClient, type SubmissionView } from "../../local/cli/submissionsClient";
import { allKeyValues } from "../../local/runtime/keys";

export { isTerminal, type SubmissionView };

export interface TestStack extends Stack {
  submissions: SubmissionsClient;
}

export async function startTestStack(options: StackOptions = {}): Promise<TestStack> {
  const stack = await startStack({ virtualClock: true, ...options });
  return Object.assign(stack, { submissions: new SubmissionsClient(stack.apiUrl, stack.functionKey) });
}

/** Uploads a generated package named `<folder>-1.0.0.hlkx`; returns the blob name. */
export async function dropPackage(stack: Stack, folder: string): Promise<string> {
  const pkg = samplePackage({ folder });
  await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
  return pkg.fileName;
}

export function emulatorCounts(stack: Stack): { products: number; submissions: number } {
  const products = stack.emulators.state().products;
  return { products: products.length, submissions: products.reduce((sum, p) => sum + p.submissions.length, 0) };
}

/** Number of create-product requests the Hardware Dev Center emulator answered with success. */
export function createProductCalls(stack: Stack): number {
  return stack.emulators.requests().entries.filter((e) => e.kind === "createProduct" && e.status < 300).length;
}

/** Fails if `text` holds the client secret, a host key, a bearer token or a SAS signature. */
export function expectNothingSecret(stack: Stack, text: string): void {
  expect(text).not.toContain(stack.env.HDC_CLIENT_SECRET);
  for (const { name, value } of allKeyValues(stack.keys)) expect({ [name]: text.includes(value) }).toEqual({ [name]: false });
  expect(text).not.toMatch(/[?&]sig=/i);
  expect(text).not.toMatch(/bearer\s+[a-z0-9._-]{10,}/i);
  // JWT-shaped strings (header.payload.signature, base64url "eyJ" headers) would be access tokens.
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\./);
}

export const SUCCESS_TIMEOUT_MS = 60_000;

export function waitForEnd(stack: TestStack, id: string, timeoutMs = SUCCESS_TIMEOUT_MS): Promise<SubmissionView> {
  return stack.submissions.waitFor(id, isTerminal, { timeoutMs });
}

/** Headers that open the Event Grid endpoints (/_local/eventgrid, /runtime/webhooks/eventgrid). */
export function eventGridKeyHeaders(stack: Stack): Record<string, string> {
  return { "x-functions-key": stack.keys.systemKeys.eventgrid_extension };
}

/** Headers that open the Durable webhooks (/runtime/webhooks/durabletask/...). */
export function durableKeyHeaders(stack: Stack): Record<string, string> {
  return { "x-functions-key": stack.keys.systemKeys.durabletask_extension };
}
