/**
 * A small evaluator for the ARM template expressions that `bicep snapshot` leaves unresolved:
 * the ones that depend on values Azure assigns at deployment (a managed identity's client id,
 * a vault's URI). Those reference() calls are answered with representative values keyed by
 * resource type and property; anything else unknown throws, so a new runtime dependency in the
 * templates shows up here instead of being guessed.
 */

export const RUNTIME_VALUES: Record<string, Record<string, unknown>> = {
  "Microsoft.ManagedIdentity/userAssignedIdentities": {
    clientId: "aaaaaaaa-1111-4111-8111-000000000001",
    principalId: "aaaaaaaa-2222-4222-8222-000000000002",
  },
  "Microsoft.Insights/components": {
    ConnectionString:
      "InstrumentationKey=aaaaaaaa-3333-4333-8333-000000000003;IngestionEndpoint=https://eastus-8.in.applicationinsights.azure.com/;ApplicationId=aaaaaaaa-4444-4444-8444-000000000004",
  },
  "Microsoft.KeyVault/vaults": { vaultUri: "https://kv-example.vault.azure.net/" },
  "Microsoft.Web/sites": { defaultHostName: "func-example.azurewebsites.net" },
  "Microsoft.DurableTask/schedulers": { endpoint: "https://dts-example.eastus.durabletask.io" },
  "Microsoft.EventGrid/systemTopics": { identity: { principalId: "aaaaaaaa-5555-4555-8555-000000000005" } },
};

type Value = unknown;
type Token = { kind: "ident" | "string" | "number" | "punct"; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let text = "";
      i++;
      for (;;) {
        if (i >= source.length) throw new Error(`unterminated string in ${source}`);
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += source[i++];
      }
      tokens.push({ kind: "string", text });
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: "ident", text: match[0] });
      i += match[0].length;
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?[0-9]+/.exec(source.slice(i))!;
      tokens.push({ kind: "number", text: match[0] });
      i += match[0].length;
    } else if ("(),.[]".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else {
      throw new Error(`unexpected '${c}' in ${source}`);
    }
  }
  return tokens;
}

function resourceTypeOf(id: string): string {
  const provider = id.lastIndexOf("/providers/");
  const parts = id.slice(provider + "/providers/".length).split("/");
  const type = [parts[0]];
  for (let i = 1; i < parts.length; i += 2) type.push(parts[i]);
  return type.join("/");
}

type RuntimeValues = Record<string, Record<string, unknown>>;

const functions = (runtime: RuntimeValues): Record<string, (...args: Value[]) => Value> => ({
  format: (template, ...args) => String(template).replace(/\{(\d+)\}/g, (_, n: string) => String(args[Number(n)])),
  concat: (...args) => args.map(String).join(""),
  toLower: (value) => String(value).toLowerCase(),
  environment: () => ({
    name: "AzureCloud",
    suffixes: { storage: "core.windows.net" },
    authentication: { loginEndpoint: "https://login.microsoftonline.com/" },
  }),
  reference: (id) => {
    const type = resourceTypeOf(String(id));
    const values = runtime[type];
    if (!values) throw new Error(`no representative runtime values for ${type} (reference to ${String(id)})`);
    return values;
  },
});

/** Evaluates one ARM expression (the text between the outer brackets). */
export function evaluateExpression(source: string, runtime: RuntimeValues = RUNTIME_VALUES): Value {
  const FUNCTIONS = functions(runtime);
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (text: string) => {
    const token = tokens[pos++];
    if (!token || token.text !== text) throw new Error(`expected '${text}' in ${source}`);
  };
  const primary = (): Value => {
    const token = tokens[pos++];
    if (!token) throw new Error(`unexpected end of ${source}`);
    if (token.kind === "string") return token.text;
    if (token.kind === "number") return Number(token.text);
    if (token.kind !== "ident") throw new Error(`unexpected '${token.text}' in ${source}`);
    const fn = FUNCTIONS[token.text];
    if (!fn) throw new Error(`unsupported function ${token.text}() in ${source}`);
    expect("(");
    const args: Value[] = [];
    while (peek()?.text !== ")") {
      args.push(expression());
      if (peek()?.text === ",") pos++;
    }
    expect(")");
    return fn(...args);
  };
  const expression = (): Value => {
    let value = primary();
    for (;;) {
      const token = peek();
      if (token?.text === ".") {
        pos++;
        const name = tokens[pos++].text;
        value = (value as Record<string, Value>)[name];
        if (value === undefined) throw new Error(`no property ${name} in ${source}`);
      } else if (token?.text === "[") {
        pos++;
        const index = expression();
        expect("]");
        value = (value as Record<string, Value>)[String(index)];
      } else {
        return value;
      }
    }
  };
  const value = expression();
  if (pos !== tokens.length) throw new Error(`trailing tokens in ${source}`);
  return value;
}

/**
 * Resolves every "[...]" expression string inside a JSON value. "[[" is ARM's escaped literal bracket.
 * `runtime` replaces RUNTIME_VALUES (e.g. a vault URI that points at a loopback stand-in).
 */
export function resolve(value: Value, runtime: RuntimeValues = RUNTIME_VALUES): Value {
  if (typeof value === "string") {
    if (value.startsWith("[[")) return value.slice(1);
    if (value.startsWith("[") && value.endsWith("]")) return evaluateExpression(value.slice(1, -1), runtime);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, runtime));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, runtime)]));
  }
  return value;
}
