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
import { DEFAULT_SUBJECT, LocalOidcProvider, loadFederatedApps } from "../identity/federation";
import { LocalIssuer, parseDuration } from "../identity/issuer";
import { LOCAL_DATA_DIR } from "../runtime/paths";

const USAGE = `usage: npm run token -- (--user NAME | --app NAME) --roles ROLE[,ROLE...] [--expires 1h] [--data-dir .local-data/run]
  --user NAME        a user token (name, preferred_username NAME@local.test)
  --app NAME         an application (client-credentials) token, idtyp "app"
  --roles LIST       app roles, comma-separated: ${SIGN_ROLES.join(", ")} ("" for none)
  --expires DURATION lifetime such as 90s, 10m, 2h (default 1h)
  --data-dir DIR     the stack's data folder (default .local-data/run, as npm run local)
  --out FILE         write the token to FILE (mode 0600, replaced if it exists) instead of stdout
Workload identity federation (a GitHub Actions OIDC token, locally):
  --oidc-subject SUB   instead of an access token, the local "GitHub" OIDC provider's JWT for SUB
                       (e.g. repo:contoso/drivers:environment:prod), for AZURE_FEDERATED_TOKEN_FILE
  --oidc-audience AUD  its audience (default api://AzureADTokenExchange); --expires applies (default 5m)
  --federation-env APP prints AZURE_CLIENT_ID, AZURE_TENANT_ID and the API audience of a federated
                       app of identity/federated-apps.json (made with the app ci-pipeline), as KEY=value lines
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
        expires: { type: "string" },
        "data-dir": { type: "string" },
        out: { type: "string" },
        "oidc-subject": { type: "string" },
        "oidc-audience": { type: "string" },
        "federation-env": { type: "string" },
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
  const dataDirOf = () => path.resolve(values["data-dir"] ?? path.join(LOCAL_DATA_DIR, "run"));
  if (values["federation-env"] !== undefined) return federationEnv(dataDirOf(), values["federation-env"]);
  if (values["oidc-subject"] !== undefined) return oidcToken(dataDirOf(), values["oidc-subject"], values["oidc-audience"], values.expires ?? "5m", values.out);
  if ((values.user === undefined) === (values.app === undefined)) fail("give exactly one of --user or --app");
  const name = (values.user ?? values.app)!;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) fail(`--${values.user !== undefined ? "user" : "app"}: "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  if (values.roles === undefined) fail("--roles: required (comma-separated app roles, \"\" for none)");
  const roles = values.roles.split(",").map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((role) => !(SIGN_ROLES as readonly string[]).includes(role));
  if (unknown.length > 0) fail(`--roles: ${unknown.join(", ")} ${unknown.length === 1 ? "is not a role" : "are not roles"} of this API (${SIGN_ROLES.join(", ")})`);
  const expiresInSeconds = parseDuration(values.expires ?? "1h");
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
  emit(token, values.out);
}

function emit(token: string, outFile: string | undefined): void {
  if (outFile !== undefined) {
    const out = path.resolve(outFile);
    // Removed first so an existing file's looser mode is not kept.
    fs.rmSync(out, { force: true });
    fs.writeFileSync(out, token + "\n", { mode: 0o600, flag: "wx" });
    return;
  }
  process.stdout.write(token + "\n");
}

function oidcToken(dataDir: string, subject: string, audience: string | undefined, expires: string, out: string | undefined): void {
  if (!/^\S{1,400}$/.test(subject)) fail(`--oidc-subject: "${subject}" must be 1-400 characters without spaces (e.g. ${DEFAULT_SUBJECT})`);
  const expiresInSeconds = parseDuration(expires);
  if (expiresInSeconds === undefined) fail(`--expires: "${expires}" is not a duration such as 90s, 10m or 2h`);
  emit(LocalOidcProvider.loadOrCreate(dataDir).mint({ subject, audience, expiresInSeconds }), out);
}

function federationEnv(dataDir: string, appName: string): void {
  let issuer: LocalIssuer;
  try {
    issuer = LocalIssuer.loadOrCreate(dataDir);
  } catch (error) {
    fail((error as Error).message);
  }
  const app = loadFederatedApps(dataDir).find((candidate) => candidate.name === appName);
  if (!app) fail(`--federation-env: no federated app "${appName}" in ${path.join(dataDir, "identity", "federated-apps.json")}`);
  process.stdout.write(`AZURE_CLIENT_ID=${issuer.appClientId(app.name)}\nAZURE_TENANT_ID=${issuer.metadata.tenantId}\nDRIVER_SIGN_AUDIENCE=${issuer.metadata.audiences[0]}\n`);
}

main();
