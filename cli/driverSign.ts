#!/usr/bin/env node
/**
 * driver-sign: sign a Windows driver package through the driver-signing service from any CI job.
 * Talks only to the service's HTTP API (function key in x-functions-key, or an Entra ID bearer
 * token: cli/auth.ts). See cli/README.md.
 */
import * as fs from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { ApiClient, safeText } from "./api";
import { tokenSource, type TokenSource } from "./auth";
import * as commands from "./commands";
import { parseDuration } from "./duration";
import { CliError, ExitCode, type ExitCodeValue } from "./exitCodes";
import { emptyResult, type ResultDocument } from "./output";
import * as preflight from "./preflight";
import { ProgressLine } from "./progress";
import { defaultUploadCacheDir } from "./uploadCache";

interface GlobalOptions {
  url?: string;
  key?: string;
  tokenFile?: string;
  audience?: string;
  json?: boolean;
}

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT = "90m";
const DEFAULT_POLL = "30s";

function duration(option: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new CliError(ExitCode.BadArguments, `${option} ${JSON.stringify(text)} is not a duration (e.g. 90m, 30s, 1h30m)`);
  return ms;
}

/** Runs one command line; resolves with the exit code (never calls process.exit). */
export async function run(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<ExitCodeValue> {
  const keyIndex = argv.indexOf("--key");
  const keyGiven = io.env.DRIVER_SIGN_KEY ?? (keyIndex >= 0 ? argv[keyIndex + 1] : argv.find((a) => a.startsWith("--key="))?.slice(6));
  // The token (env or file, once read) is masked like the key in everything printed.
  let bearer: TokenSource | undefined;
  const secrets = () => [keyGiven, io.env.DRIVER_SIGN_TOKEN?.trim(), ...(bearer?.handedOut ?? [])];
  const wantsJson = argv.includes("--json");
  let result: ResultDocument | undefined;
  // Known before parsing, so an argument error still names its command in the JSON document.
  const COMMANDS = ["submit", "status", "wait", "download", "list", "cancel", "approve", "reject", "audit", "check", "pack"] as const;
  let commandName: ResultDocument["command"] = COMMANDS.find((name) => argv.includes(name)) ?? "driver-sign";
  // audit without --out: stdout holds the records, so the summary goes to stderr.
  let auditToStdout = false;

  const program = new Command("driver-sign")
    .description("Sign a Windows driver package through the driver-signing service")
    .addOption(new Option("--url <url>", "the service's API base, e.g. https://signing.example.net/api").env("DRIVER_SIGN_URL"))
    .addOption(new Option("--key <key>", "function key (sent as x-functions-key; never printed)").env("DRIVER_SIGN_KEY"))
    .addOption(new Option("--token-file <file>", "a file holding an Entra ID access token, read again for every request (the token itself: DRIVER_SIGN_TOKEN)").env("DRIVER_SIGN_TOKEN_FILE"))
    .addOption(new Option("--audience <api://clientId>", "get a token for <audience>/.default (workload identity / GitHub OIDC, Azure CLI, managed identity)").env("DRIVER_SIGN_AUDIENCE"))
    .option("--json", "print one JSON document (schema in cli/README.md)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(safeText(text, secrets())),
      // An unknown "--opt=value" is echoed by commander; its value may be a mistyped --key.
      writeErr: (text) => io.stderr.write(safeText(text, secrets()).replace(/(--[A-Za-z][\w-]*=)[^'\s]+/g, "$1***")),
    });

  const context = (command: Command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    if (!globals.url) throw new CliError(ExitCode.BadArguments, "--url (or DRIVER_SIGN_URL) is required");
    const progress = new ProgressLine(io.stderr);
    bearer = tokenSource({ key: globals.key, tokenFile: globals.tokenFile, token: io.env.DRIVER_SIGN_TOKEN, audience: globals.audience }, io.env);
    return { api: new ApiClient({ url: globals.url, key: bearer ? undefined : globals.key, bearer }), progress };
  };
  const waitOptions = (options: { timeout: string; poll: string }) => ({ timeoutMs: duration("--timeout", options.timeout), pollMs: duration("--poll", options.poll) });

  program
    .command("submit")
    .description("upload a package (once per content), start or find its submission, optionally wait and download the results")
    .argument("<package>", "the .hlkx, .hckx or .cab file")
    .option("--product <file>", "JSON file of product fields (productName, requestedSignatures, ...); a `publish` section publishes after signing")
    .option("--wait", "wait for the submission to end")
    .option("--timeout <duration>", "how long to wait (the submission goes on after it)", DEFAULT_TIMEOUT)
    .option("--poll <duration>", "time between status checks", DEFAULT_POLL)
    .option("--out <dir>", "download the signed package, driver metadata and manifest here (implies --wait)")
    .addOption(new Option("--upload-cache <dir>", "where this machine remembers its upload ids, so a re-run skips the upload (default ~/.cache/driver-sign/uploads)").env("DRIVER_SIGN_UPLOAD_CACHE"))
    .option("--preproduction", "Microsoft's preproduction signing (Secure Boot test devices) instead of a product submission")
    .action(
      async (
        packagePath: string,
        options: { product?: string; wait?: boolean; timeout: string; poll: string; out?: string; uploadCache?: string; preproduction?: boolean },
        command: Command,
      ) => {
        commandName = "submit";
        const wait = waitOptions(options);
        const { api, progress } = context(command);
        const uploadCacheDir = options.uploadCache ?? defaultUploadCacheDir(io.env);
        result = await commands.submit(
          api,
          packagePath,
          { productFile: options.product, preproduction: Boolean(options.preproduction), wait: Boolean(options.wait), out: options.out, waitOptions: wait, uploadCacheDir },
          progress,
        );
      },
    );

  program
    .command("status")
    .description("show a submission's status")
    .argument("<id>", "submission (instance) id")
    .action(async (id: string, _options: unknown, command: Command) => {
      commandName = "status";
      result = await commands.status(context(command).api, id);
    });

  program
    .command("wait")
    .description("wait for a submission to end")
    .argument("<id>", "submission (instance) id")
    .option("--timeout <duration>", "how long to wait (the submission goes on after it)", DEFAULT_TIMEOUT)
    .option("--poll <duration>", "time between status checks", DEFAULT_POLL)
    .option("--out <dir>", "download the results here when signed")
    .action(async (id: string, options: { timeout: string; poll: string; out?: string }, command: Command) => {
      commandName = "wait";
      const wait = waitOptions(options);
      const { api, progress } = context(command);
      result = await commands.wait(api, id, wait, options.out, progress);
    });

  program
    .command("download")
    .description("download the signed package, driver metadata and manifest of a signed submission (of one Microsoft failed: the manifest and its whole error report)")
    .argument("<id>", "submission (instance) id")
    .requiredOption("--out <dir>", "folder to write the files to")
    .action(async (id: string, options: { out: string }, command: Command) => {
      commandName = "download";
      const { api, progress } = context(command);
      result = await commands.download(api, id, options.out, progress);
    });

  program
    .command("list")
    .description("list submissions")
    .option("--status <statuses>", "comma-separated runtime statuses, e.g. Running,Failed")
    .action(async (options: { status?: string }, command: Command) => {
      commandName = "list";
      result = await commands.list(context(command).api, options.status);
    });

  program
    .command("cancel")
    .description("stop a running submission (Microsoft keeps processing a committed one)")
    .argument("<id>", "submission (instance) id")
    .action(async (id: string, _options: unknown, command: Command) => {
      commandName = "cancel";
      result = await commands.cancel(context(command).api, id);
    });

  // Issue 34: a second person's decision on a label waiting for approval (Sign.Approve; never the requester).
  for (const decision of ["approve", "reject"] as const) {
    program
      .command(decision)
      .description(decision === "approve" ? "approve the label waiting for approval (Sign.Approve; not your own)" : "reject the label waiting for approval: nothing is created (Sign.Approve)")
      .argument("<id>", "submission (instance) id")
      .option("--label <run>", "the label run (<id>-label-<n> or n); default: the one waiting")
      .requiredOption("--comment <text>", decision === "approve" ? "why it may go (may be empty: --comment \"\")" : "why not (required)")
      .action(async (id: string, options: { label?: string; comment: string }, command: Command) => {
        commandName = decision;
        result = await commands.decide(context(command).api, id, decision, options.comment, options.label);
      });
  }

  program
    .command("audit")
    .description("export the audit trail as JSON Lines (Sign.Operate): to --out, or to stdout")
    .option("--submission <id>", "only records of this submission (instance id or Microsoft's submission id)")
    .option("--principal <objectId>", "only records of this caller")
    .option("--action <action>", "only this action, e.g. submission.start, label.create, drop, purge")
    .option("--from <time>", "from this ISO 8601 time (inclusive)")
    .option("--to <time>", "up to this ISO 8601 time (exclusive)")
    .option("--out <file>", "write the records here (JSON Lines) instead of stdout")
    .action(async (options: { submission?: string; principal?: string; action?: string; from?: string; to?: string; out?: string }, command: Command) => {
      commandName = "audit";
      // On stdout the records are the output; a JSON document there too would not parse as either.
      if (wantsJson && !options.out) throw new CliError(ExitCode.BadArguments, "audit --json needs --out <file> (without it the records themselves are printed as JSON Lines)");
      const query = Object.fromEntries(
        (["submission", "principal", "action", "from", "to"] as const).filter((name) => options[name] !== undefined).map((name) => [name, String(options[name])]),
      );
      const api = context(command).api;
      if (options.out) {
        const out = options.out;
        fs.writeFileSync(out, "", { mode: 0o600 });
        result = await commands.audit(api, query, async (lines) => fs.promises.appendFile(out, lines));
        result = { ...result, message: `${result.message} written to ${out}` };
      } else {
        result = await commands.audit(api, query, async (lines) => {
          io.stdout.write(safeText(lines, secrets()));
        });
        auditToStdout = true;
      }
    });

  // The offline preflight: no --url or key needed (docs/package-rules.md).
  program
    .command("check")
    .description("check a driver package (.cab, or an HLK package .hlkx/.hckx) offline against the rules Microsoft enforces; exit 0 clean, 10 warnings, 11 refused")
    .argument("<package>", "the .cab (or .hlkx/.hckx) file")
    .option("--attestation", "the CAB goes to attestation signing: it must be EV-signed (PKG010), and --os is checked (PKG020)")
    .option("--os <codes>", "comma-separated requested OS codes (requestedSignatures), e.g. WINDOWS_v100_X64_CO_FULL")
    .addOption(new Option("--registered-certs <thumbprints>", "comma-separated SHA-1 or SHA-256 thumbprints of the certificates registered in Partner Center (PKG014)").env("DRIVER_SIGN_REGISTERED_CERTS"))
    .action(async (packagePath: string, options: { attestation?: boolean; os?: string; registeredCerts?: string }) => {
      commandName = "check";
      result = await preflight.check(packagePath, "check", preflight.signingIntent(options));
    });

  program
    .command("pack")
    .description("pack driver folders into the CAB Microsoft expects (one top folder each, MSZIP, same bytes for the same input), then check it")
    .argument("<folders...>", "driver folders; each becomes a top folder of the CAB under its own name")
    .requiredOption("--out <file>", "the .cab to write")
    .action(async (folders: string[], options: { out: string }) => {
      commandName = "pack";
      result = await preflight.pack(folders, options.out);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    if (!result) throw new CliError(ExitCode.BadArguments, "no command given (submit, status, wait, download, list, cancel, audit, check, pack)");
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.Signed; // --help, --version
      result = withError(commandName, ExitCode.BadArguments, error.message.replace(/^error: /, "").replace(/(--[A-Za-z][\w-]*=)[^'\s]+/g, "$1***"));
    } else if (error instanceof CliError) {
      result = withError(commandName, error.exitCode, error.message, error.httpStatus);
      if (!wantsJson) io.stderr.write(`driver-sign: ${safeText(error.message, secrets())}\n`);
    } else {
      const message = `unexpected error: ${(error as Error).message}`;
      result = withError(commandName, ExitCode.ApiError, message);
      if (!wantsJson) io.stderr.write(`driver-sign: ${safeText(message, secrets())}\n`);
    }
  }
  if (auditToStdout && result.outcome !== "error") io.stderr.write(`${safeText(result.message, secrets())}\n`);
  else print(result, wantsJson, io, secrets());
  return result.exitCode as ExitCodeValue;
}

function withError(command: ResultDocument["command"], exitCode: ExitCodeValue, message: string, httpStatus?: number): ResultDocument {
  return { ...emptyResult(command), exitCode, outcome: "error", message, error: { message, httpStatus: httpStatus ?? null } };
}

function print(result: ResultDocument, json: boolean, io: CliIo, key: (string | undefined)[]): void {
  if (json) {
    io.stdout.write(`${safeText(JSON.stringify(result, null, 2), key)}\n`);
    return;
  }
  if (result.outcome === "error") return; // already on stderr
  const lines = [result.message];
  if (result.submission) {
    const doc = result.submission;
    lines.push(`id: ${doc.id}`, `stage: ${doc.stage} (${doc.progress})`);
    if (doc.productId) lines.push(`productId: ${doc.productId}`);
    if (doc.submissionId) lines.push(`submissionId: ${doc.submissionId}`);
    if (doc.step) lines.push(`Microsoft step: ${doc.step.index ?? "?"} of ${doc.step.count} (${doc.step.name}${doc.state ? `, ${doc.state}` : ""})`);
  }
  for (const doc of result.submissions ?? []) lines.push(`${doc.id}  ${doc.runtimeStatus}  ${doc.stage}  ${doc.package ?? ""}`);
  if (result.preflight) lines.push(...preflight.preflightLines(result.preflight));
  for (const file of result.files) {
    if (file.kind === "package") lines.push(`package: ${file.path} (${file.bytes} bytes, sha256 ${file.sha256})`);
    else lines.push(`${file.kind}: ${file.path} (${file.bytes} bytes, sha256 ${file.sha256}; verified: ${file.verified.join(", ") || "nothing to check against"})`);
  }
  io.stdout.write(`${safeText(lines.join("\n"), key)}\n`);
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`driver-sign: ${(error as Error).message}\n`);
      process.exitCode = ExitCode.ApiError;
    },
  );
}
