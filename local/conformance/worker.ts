/**
 * The Node side of the real-engine host (local/conformance/host): plays the Functions host's Node.js
 * worker over loopback HTTP. The .NET host asks GET /functions for what to generate, then forwards
 * every orchestrator episode (POST /orchestrator/<name>, body: the extension's trigger JSON) and every
 * activity (POST /activity/<name>, body: {instanceId, input}). A handler that throws answers 500 with
 * {message, stack}, which the host turns into the Functions host's RpcException.
 * GET /payload/<instanceId> returns the last orchestrator payload seen for that instance (its history).
 *
 * Usage: node dist/local/conformance/worker.js [--app-only] [appEntry]; prints "READY <port>".
 * --app-only: the app's functions alone (the local stack on the real engine, local/realEngine/launch.ts), whose
 * activities with a durableClient binding get REAL_ENGINE_DURABLE_CLIENT (JSON binding data) from the environment.
 */
import "../functionsHost/installCoreStandIn";
import * as http from "node:http";
import { activityInputFromHost, durableFunctions, loadFunctions, workerError } from "./appFunctions";
import { PayloadRecorder } from "./payloads";

// The app's log lines go to stderr, as a Functions host's worker logs (the harness shows them with --verbose; the
// crash tests read the recovery lines from them).
const args = process.argv.slice(2);
const appOnly = args.includes("--app-only");
const entry = args.find((arg) => !arg.startsWith("--"));
const clientData = process.env.REAL_ENGINE_DURABLE_CLIENT;
const app = loadFunctions(entry, (line) => process.stderr.write(line + "\n"), {
  appOnly,
  durableClientData: clientData ? () => JSON.parse(clientData) as unknown : undefined,
});
const functions = durableFunctions(app);
const payloads = new PayloadRecorder();

async function handle(method: string, path: string, body: string): Promise<{ status: number; json: unknown }> {
  const [route, rawName] = path.replace(/^\/+/, "").split("/");
  const name = decodeURIComponent(rawName ?? "");
  if (method === "GET" && route === "functions") return { status: 200, json: functions };
  if (method === "GET" && route === "payload") return { status: 200, json: payloads.last(name) ?? null };
  if (method !== "POST" || !app.has(name)) return { status: 404, json: { message: `no route ${method} ${path}` } };
  try {
    if (route === "orchestrator") {
      const payload = JSON.parse(body) as unknown;
      payloads.record(payload);
      return { status: 200, json: await app.invoke(name, payload) };
    }
    if (route === "activity") {
      const request = JSON.parse(body) as { input?: unknown };
      const result = await app.invoke(name, activityInputFromHost(request.input ?? null));
      return { status: 200, json: result === undefined ? {} : { result } };
    }
  } catch (error) {
    return { status: 500, json: workerError(error) };
  }
  return { status: 404, json: { message: `no route ${method} ${path}` } };
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    void handle(req.method ?? "GET", req.url ?? "/", Buffer.concat(chunks).toString("utf8")).then(({ status, json }) => {
      const bytes = Buffer.from(JSON.stringify(json) ?? "null");
      res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length });
      res.end(bytes);
    });
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`READY ${typeof address === "object" && address ? address.port : 0}\n`);
});
