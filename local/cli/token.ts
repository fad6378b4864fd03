/**
 * `npm run token -- --user alice --roles Sign.Submit,Sign.Publish [--expires 10m] [--data-dir .local-data/run]`
 * or `--app NAME` for an application: prints an access token of the local issuer (and nothing else)
 * on standard output, or with `--out FILE` into a new file of mode 0600 (a token file for a client,
 * never on a command line). A stack started with `--auth entra` on the same data folder accepts it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { SIGN_ROLES } from "../../src/domain/principal";
import { LocalIssuer, parseDuration } from "../identity/issuer";
import { LOCAL_DATA_DIR } from "../runtime/paths";

const USAGE = `usage: npm run token -- (--user NAME | --app NAME) --roles ROLE[,ROLE...] [--expires 1h] [--data-dir .local-data/run]
  --user NAME        a user token (name, preferred_username NAME@local.test)
  --app NAME         an application (client-credentials) token, idtyp "app"
  --roles LIST       app roles, comma-separated: ${SIGN_ROLES.join(", ")} ("" for none)
  --expires DURATION lifetime such as 90s, 10m, 2h (default 1h)
  --data-dir DIR     the stack's data folder (default .local-data/run, as npm run local)
  --out FILE         write the token to FILE (mode 0600, replaced if it exists) instead of stdout
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
}

function main(): void {
  let values;
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        user: { type: "string" },
        app: { type: "string" },
        roles: { type: "string" },
        expires: { type: "string", default: "1h" },
        "data-dir": { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if ((values.user === undefined) === (values.app === undefined)) fail("give exactly one of --user or --app");
  const name = (values.user ?? values.app)!;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) fail(`--${values.user !== undefined ? "user" : "app"}: "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  if (values.roles === undefined) fail("--roles: required (comma-separated app roles, \"\" for none)");
  const roles = values.roles.split(",").map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((role) => !(SIGN_ROLES as readonly string[]).includes(role));
  if (unknown.length > 0) fail(`--roles: ${unknown.join(", ")} ${unknown.length === 1 ? "is not a role" : "are not roles"} of this API (${SIGN_ROLES.join(", ")})`);
  const expiresInSeconds = parseDuration(values.expires!);
  if (expiresInSeconds === undefined) fail(`--expires: "${values.expires}" is not a duration such as 90s, 10m or 2h`);
  const dataDir = path.resolve(values["data-dir"] ?? path.join(LOCAL_DATA_DIR, "run"));
  let issuer: LocalIssuer;
  try {
    // Creating it here too lets a token be made before the stack's first start on this folder.
    issuer = LocalIssuer.loadOrCreate(dataDir);
  } catch (error) {
    fail((error as Error).message);
  }
  const token = issuer.issue({ ...(values.user !== undefined ? { user: name } : { app: name }), roles, expiresInSeconds });
  if (values.out !== undefined) {
    const out = path.resolve(values.out);
    // Removed first so an existing file's looser mode is not kept.
    fs.rmSync(out, { force: true });
    fs.writeFileSync(out, token + "\n", { mode: 0o600, flag: "wx" });
    return;
  }
  process.stdout.write(token + "\n");
}

main();
