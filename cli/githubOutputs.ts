/**
 * For action.yml: turns the `driver-sign submit --json` document into GitHub Actions step outputs
 * (instance-id, product-id, submission-id, signed-package-path, status, exit-code), appended to
 * $GITHUB_OUTPUT. Values are ids, a path and a word: never the key or a URL.
 *
 *   node dist/cli/githubOutputs.js <result.json> <exit code>
 */
import * as fs from "node:fs";
import { resultDocumentSchema, type ResultDocument } from "./output";

export function actionOutputs(result: ResultDocument | undefined, exitCode: number): Record<string, string> {
  const signed = result?.files.find((file) => file.kind === "signedPackage");
  return {
    "instance-id": result?.id ?? "",
    "product-id": result?.submission?.productId ?? "",
    "submission-id": result?.submission?.submissionId ?? "",
    "signed-package-path": signed?.path ?? "",
    status: result?.outcome ?? "error",
    "exit-code": String(exitCode),
  };
}

/** GitHub's `name=value` lines; values here are single-line by construction. */
export function formatOutputs(outputs: Record<string, string>): string {
  return Object.entries(outputs)
    .map(([name, value]) => `${name}=${value.replace(/[\r\n]+/g, " ")}\n`)
    .join("");
}

function main(): void {
  const [file, code] = process.argv.slice(2);
  let result: ResultDocument | undefined;
  try {
    result = resultDocumentSchema.parse(JSON.parse(fs.readFileSync(file ?? "", "utf8")));
  } catch (error) {
    process.stderr.write(`driver-sign printed no valid result document (${(error as Error).message.slice(0, 200)})\n`);
  }
  const text = formatOutputs(actionOutputs(result, Number(code ?? 1)));
  const target = process.env.GITHUB_OUTPUT;
  if (target) fs.appendFileSync(target, text);
  else process.stdout.write(text);
  if (result) process.stderr.write(`${result.message}\n`);
}

if (require.main === module) main();
