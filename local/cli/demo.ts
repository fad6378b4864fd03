/**
 * `npm run demo`: the whole flow in under a minute, offline. Starts the stack on the virtual clock,
 * drops a generated sample package into driver-drops, shows each stage as it happens, and prints
 * where the signed package and manifest landed. Exit code 0 on success, 1 otherwise.
 * `npm run demo -- --engine real` runs it on Microsoft's Durable Task extension instead (real clock, about a
 * minute; needs the .NET SDK: scripts/restore-conformance.sh builds its host once).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { samplePackage } from "../samplePackage";
import { APP_CONTAINERS, startStack, type Stack } from "../stack";
import { isTerminal, SubmissionsClient, type SubmissionView } from "./submissionsClient";

const STAGE_LABELS: Record<string, string> = {
  queued: "queued",
  authenticating: "authenticating",
  creatingProduct: "creating product",
  creatingSubmission: "creating submission",
  uploading: "uploading package",
  committing: "committing",
  waitingForMicrosoft: "waiting for Microsoft",
  downloadingSignedPackage: "downloading signed package",
  succeeded: "succeeded",
  failed: "failed",
};

const tty = process.stdout.isTTY;
const green = (text: string) => (tty ? `\x1b[32m${text}\x1b[0m` : text);
const red = (text: string) => (tty ? `\x1b[31m${text}\x1b[0m` : text);
const dim = (text: string) => (tty ? `\x1b[2m${text}\x1b[0m` : text);
const say = (line: string) => process.stdout.write(line + "\n");

/** What a finished stage produced, read from the first view after it (ids as Microsoft gave them). */
function resultOf(stage: string, view: SubmissionView): string {
  const c = view.custom;
  switch (stage) {
    case "creatingProduct":
      return c.productId ? `product ${c.productId}` : "";
    case "creatingSubmission":
      return c.submissionId ? `submission ${c.submissionId}` : "";
    case "committing":
      return c.commitStatus ? `${c.commitStatus}` : "";
    case "waitingForMicrosoft":
      return [c.currentStep, c.state].filter(Boolean).join(" / ");
    default:
      return "";
  }
}

/** The orchestrator's stages in order; a poll can miss a short one, but it ran if a later one is reached. */
const STAGE_ORDER = [
  "authenticating",
  "creatingProduct",
  "creatingSubmission",
  "uploading",
  "committing",
  "waitingForMicrosoft",
  "downloadingSignedPackage",
];

/** Stages finished when the status moves from `from` (undefined: nothing seen yet) to `to`. */
function stagesDoneBetween(from: string | undefined, to: string): string[] {
  const start = from === undefined ? 0 : Math.max(0, STAGE_ORDER.indexOf(from));
  const end = to === "succeeded" ? STAGE_ORDER.length : STAGE_ORDER.indexOf(to);
  return end < 0 ? [] : STAGE_ORDER.slice(start, end);
}

const DEMO_OUTPUT_DIR = path.resolve(".local-data/demo");

async function runDemo(stack: Stack, timeoutMs: number): Promise<boolean> {
  const pkg = samplePackage({ folder: "contoso-demo", version: "1.0.0" });
  await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlockBlobClient(pkg.fileName).uploadData(pkg.bytes);
  say(`Dropped ${pkg.fileName} (${pkg.bytes.length} bytes) into ${APP_CONTAINERS.drops}`);

  const client = new SubmissionsClient(stack.apiUrl, stack.functionKey);
  const id = await client.findByBlob(pkg.fileName, 20_000);
  say(`Submission ${id}`);

  let lastStage: string | undefined;
  let lastStep = "";
  let failedStage: string | undefined;
  const final = await client.waitFor(id, isTerminal, {
    timeoutMs,
    intervalMs: 100,
    onChange: (view) => {
      const stage = view.stage;
      if (!stage) return;
      if (stage !== lastStage) {
        // One line per finished stage; a stage followed by "failed" is the one that failed.
        if (stage === "failed" || stage === "terminated") failedStage = lastStage;
        else {
          for (const done of stagesDoneBetween(lastStage, stage)) {
            say(`  ${green("✔")} ${(STAGE_LABELS[done] ?? done).padEnd(28)}${dim(resultOf(done, view))}`);
          }
        }
        lastStage = stage;
      }
      if (stage === "waitingForMicrosoft") {
        const step = [view.custom.commitStatus, view.custom.currentStep, view.custom.state].filter(Boolean).join(" / ");
        if (step && step !== lastStep) say(`    ${dim("Microsoft: " + step)}`);
        lastStep = step;
      }
    },
  });

  const custom = final.custom;
  if (final.runtimeStatus === "Completed" && final.stage !== "failed") {
    say(green("Signed."));
    const output = (final.output ?? {}) as { signedPackage?: { container: string; blobName: string }; manifest?: { container: string; blobName: string } };
    const signed = custom.signedPackage ?? output.signedPackage;
    const manifest = custom.manifest ?? output.manifest;
    if (custom.productId) say(`  product:        ${custom.productId}`);
    if (custom.submissionId) say(`  submission:     ${custom.submissionId}`);
    if (signed) say(`  signed package: ${signed.container}/${signed.blobName}`);
    if (manifest) say(`  manifest:       ${manifest.container}/${manifest.blobName}`);
    say(`  status:         ${client.statusUrl(id)} ${dim("(while the demo runs; send x-functions-key from " + stack.keysFile + ")")}`);
    // The demo's storage goes away when it stops; keep the results where the user can open them.
    for (const location of [signed, manifest]) {
      if (!location) continue;
      const file = path.join(DEMO_OUTPUT_DIR, path.basename(location.blobName));
      fs.mkdirSync(DEMO_OUTPUT_DIR, { recursive: true });
      await stack.blobService.getContainerClient(location.container).getBlobClient(location.blobName).downloadToFile(file);
      say(`  saved:          ${path.relative(process.cwd(), file)}`);
    }
    return true;
  }
  const where = STAGE_LABELS[failedStage ?? ""] ?? failedStage ?? final.stage ?? "";
  say(`  ${red("✘")} ${where} ${dim(`(${final.runtimeStatus ?? "unknown"})`)}`);
  if (custom.error) say(`      ${custom.error}`);
  for (const message of custom.messages ?? []) say(`      ${message}`);
  say(`  status: ${client.statusUrl(id)}`);
  return false;
}

/** `--engine real`: the same run on Microsoft's Durable Task extension, on the real clock (shorter review steps and polls). */
function engineOption(argv: string[]): "local" | "real" {
  let value: string;
  try {
    value = parseArgs({ args: argv, options: { engine: { type: "string", default: "local" } }, strict: true, allowPositionals: false }).values.engine;
  } catch (error) {
    throw new Error(`${(error as Error).message} (usage: npm run demo [-- --engine local|real])`);
  }
  if (value !== "local" && value !== "real") throw new Error(`--engine: "${value}" must be local or real`);
  return value;
}

async function main(): Promise<number> {
  const started = Date.now();
  const engine = engineOption(process.argv.slice(2));
  say(
    engine === "real"
      ? "Starting Azurite, the Hardware Dev Center emulator, the local runtime and Microsoft's Durable Task extension (real clock)..."
      : "Starting Azurite, the Hardware Dev Center emulator and the local runtime (virtual clock)...",
  );
  const stack =
    engine === "real"
      ? await startStack({
          engine,
          virtualClock: false,
          behaviour: { workflow: { stepSeconds: 2, commitSeconds: 1 } },
          appSettings: { POLL_INITIAL_SECONDS: "2", POLL_MAX_SECONDS: "4" },
        })
      : await startStack({ virtualClock: true, behaviour: { workflow: { stepSeconds: 30, commitSeconds: 5 } } });
  if (engine === "real") say(dim(`  (stack up in ${((Date.now() - started) / 1000).toFixed(1)} s)`));
  let ok = false;
  try {
    ok = await runDemo(stack, engine === "real" ? 180_000 : 45_000);
  } catch (error) {
    say(red(`Demo failed: ${(error as Error).message}`));
  } finally {
    say(dim(`Stopping (ran ${((Date.now() - started) / 1000).toFixed(1)} s).`));
    await (ok ? stack.stop() : stopKeepingLog(stack));
  }
  return ok ? 0 : 1;
}

/** On failure, keep the runtime log for a look (the temp data folder is otherwise removed). */
async function stopKeepingLog(stack: Stack): Promise<void> {
  const kept = `${stack.dataDir}.runtime.log`;
  try {
    fs.copyFileSync(stack.runtimeLogFile, kept);
    say(dim(`Runtime log copied to ${kept}`));
  } catch {
    /* no log yet */
  }
  await stack.stop();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`npm run demo failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
