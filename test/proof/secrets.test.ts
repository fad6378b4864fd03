/**
 * Proof suite, item 5: after a full run through every Hardware Dev Center fault of the proof
 * suite (on one stack), nothing the app stored, logged or answered holds the client secret, a
 * host key (master, function or system key: the runtime's keys.json), a bearer token the Entra
 * emulator issued, or a SAS signature the HDC emulator issued.
 * Scanned: orchestration history (with inputs and outputs) and custom status of every instance,
 * the status API, every blob in signed-drivers and signing-state, every entity of every Azurite
 * table, and the runtime log. Exact values come from the emulators' test-only record of what they
 * issued; shape checks (unredacted sig=, "Bearer x", JWT-shaped strings) catch the rest.
 */
import * as fs from "node:fs";
import { TableClient, TableServiceClient } from "@azure/data-tables";
import { allKeyValues } from "../../local/runtime/keys";
import { APP_CONTAINERS } from "../../local/stack";
import type { TestStack } from "../support/stack";
import { FAULT_SCENARIOS, runBaseline, startFaultStack, type RunRecord } from "./support/hdcFaultScenarios";

jest.setTimeout(180_000);

interface Source {
  name: string;
  text: string;
}

const SHAPES: [string, RegExp][] = [
  ["unredacted sig=", /[?&]sig=(?!REDACTED)[^&\s"']+/gi],
  ["bearer token", /bearer\s+[a-z0-9._-]{10,}/gi],
  ["JWT-shaped string", /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\./g],
];

function occurrences(text: string, needle: string): number {
  if (!needle) return 0;
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) count++;
  return count;
}

/** A table entity as text, with properties split over name, name_1, name_2 … joined back in order. */
function entityText(entity: Record<string, unknown>): string {
  const groups = new Map<string, { index: number; value: string }[]>();
  for (const [key, value] of Object.entries(entity)) {
    if (key === "odata.metadata" || key === "etag") continue;
    const match = /^(.*?)_(\d+)$/.exec(key);
    const base = match ? match[1] : key;
    const index = match ? Number(match[2]) : 0;
    const text =
      typeof value === "string" ? value : value instanceof Uint8Array ? Buffer.from(value).toString("latin1") : JSON.stringify(value);
    groups.set(base, [...(groups.get(base) ?? []), { index, value: text }]);
  }
  return [...groups.entries()]
    .map(([base, parts]) => `${base}=${parts.sort((a, b) => a.index - b.index).map((part) => part.value).join("")}`)
    .join("\n");
}

/** Keys go in the header, so the URLs (and anything that echoes them) stay key-free. */
async function getText(url: string, key: string): Promise<string> {
  const response = await fetch(url, { headers: { "x-functions-key": key } });
  const text = await response.text();
  if (!response.ok && response.status !== 202) throw new Error(`GET ${url} answered ${response.status}`);
  return text;
}

describe("no secrets anywhere after every fault (proof)", () => {
  let stack: TestStack;
  const runs: RunRecord[] = [];

  beforeAll(async () => {
    stack = await startFaultStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs the baseline and every fault scenario to its expected end", async () => {
    const baseline = await runBaseline(stack);
    runs.push(baseline);
    for (const scenario of FAULT_SCENARIOS) runs.push(await scenario.run(stack, baseline));
    expect(runs).toHaveLength(FAULT_SCENARIOS.length + 1);
  });

  it("finds no client secret, token or SAS signature in history, status, blobs, tables or the log", async () => {
    expect(runs.length).toBeGreaterThan(1);
    const sources: Source[] = [];

    // Orchestration history (inputs, outputs, custom status) of every instance the runtime lists.
    const hub = `${stack.baseUrl}/runtime/webhooks/durabletask/instances`;
    const durableKey = stack.keys.systemKeys.durabletask_extension;
    const listed = JSON.parse(await getText(hub, durableKey)) as { instanceId: string }[];
    sources.push({ name: "instance list", text: JSON.stringify(listed) });
    expect(listed.map((instance) => instance.instanceId)).toEqual(expect.arrayContaining(runs.map((run) => run.id)));
    for (const { instanceId } of listed) {
      const id = encodeURIComponent(instanceId);
      const history = await getText(`${hub}/${id}?showHistory=true&showHistoryOutput=true&showInput=true`, durableKey);
      expect(JSON.parse(history).historyEvents?.length).toBeGreaterThan(0); // the extension names the field historyEvents
      sources.push({ name: `history ${instanceId}`, text: history });
      sources.push({ name: `status API ${instanceId}`, text: await getText(`${stack.apiUrl}/submissions/${id}`, stack.functionKey) });
    }
    sources.push({ name: "status API list", text: await getText(`${stack.apiUrl}/submissions`, stack.functionKey) });
    for (const run of runs) for (const text of run.readBack) sources.push({ name: `read back (${run.name})`, text });

    // Every blob of the result and checkpoint containers (manifests, signed packages, checkpoints).
    let manifests = 0;
    for (const containerName of [APP_CONTAINERS.signed, APP_CONTAINERS.state]) {
      const container = stack.blobService.getContainerClient(containerName);
      for await (const blob of container.listBlobsFlat()) {
        const bytes = await container.getBlobClient(blob.name).downloadToBuffer();
        if (containerName === APP_CONTAINERS.signed && blob.name.endsWith(".json")) manifests++;
        sources.push({ name: `blob ${containerName}/${blob.name}`, text: bytes.toString("latin1") });
      }
    }
    expect(manifests).toBeGreaterThanOrEqual(runs.length);

    // Every entity of every table in Azurite (the durable engine's store).
    const tables = TableServiceClient.fromConnectionString(stack.azurite.connectionString, { allowInsecureConnection: true });
    let entities = 0;
    for await (const table of tables.listTables()) {
      const client = TableClient.fromConnectionString(stack.azurite.connectionString, table.name!, { allowInsecureConnection: true });
      const texts: string[] = [];
      for await (const entity of client.listEntities()) {
        texts.push(entityText(entity as Record<string, unknown>));
        entities++;
      }
      sources.push({ name: `table ${table.name}`, text: texts.join("\n") });
    }
    expect(entities).toBeGreaterThan(0);

    sources.push({ name: "runtime log", text: fs.readFileSync(stack.runtimeLogFile, "utf8") });

    // What was issued during the whole file: the client secret, every token, every SAS signature.
    const issued = stack.emulators.issuedSecrets();
    expect(issued.accessTokens.length).toBeGreaterThan(runs.length);
    expect(issued.sas.length).toBeGreaterThan(runs.length);
    const secrets: [string, string][] = [["client secret", stack.env.HDC_CLIENT_SECRET]];
    for (const { name, value } of allKeyValues(stack.keys)) secrets.push([name, value]);
    for (const token of issued.accessTokens) secrets.push(["access token", token], ["access token signature", token.split(".")[2]]);
    for (const sas of issued.sas) secrets.push(["SAS sig", sas.signature], ["SAS sig (URL-encoded)", encodeURIComponent(sas.signature)]);

    // The scan can see what it looks for (a canary holding one issued token, one signature and the system key).
    const canary = `x Bearer ${issued.accessTokens[0]} y ?sv=1&sig=${encodeURIComponent(issued.sas[0].signature)} ?code=${durableKey}`;
    expect(secrets.filter(([, value]) => occurrences(canary, value) > 0).length).toBeGreaterThanOrEqual(4);
    expect(SHAPES.filter(([, shape]) => (canary.match(shape)?.length ?? 0) > 0)).toHaveLength(3);

    const findings: string[] = [];
    let bytesScanned = 0;
    for (const source of sources) {
      bytesScanned += Buffer.byteLength(source.text);
      for (const [what, value] of secrets) {
        const count = occurrences(source.text, value);
        if (count > 0) findings.push(`${count}× ${what} in ${source.name}`);
      }
      for (const [what, shape] of SHAPES) {
        const count = source.text.match(shape)?.length ?? 0;
        if (count > 0) findings.push(`${count}× ${what} in ${source.name}`);
      }
    }
    console.log(
      `secrets found: ${findings.length} (${bytesScanned} bytes scanned in ${sources.length} sources: ${listed.length} instances, ` +
        `${entities} table entities, ${manifests} manifests; looked for 1 client secret, ${allKeyValues(stack.keys).length} host keys, ` +
        `${issued.accessTokens.length} tokens, ${issued.sas.length} SAS signatures)`,
    );
    expect(findings).toEqual([]);
  });
});
