/**
 * The GitHub Action's glue: the result document → step outputs (cli/githubOutputs.ts), run as the
 * compiled script the action runs, and action.yml wired to the same names, inputs and built files.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { actionOutputs } from "../../../cli/githubOutputs";
import { emptyResult, type ResultDocument } from "../../../cli/output";

const ROOT = path.resolve(__dirname, "../../..");

const signed: ResultDocument = {
  ...emptyResult("submit"),
  outcome: "signed",
  message: "Submission abc is signed",
  id: "abc",
  package: "driver-drops/ci/0123456789abcdef/x.hlkx",
  uploaded: true,
  submission: {
    id: "abc",
    runtimeStatus: "Completed",
    stage: "succeeded",
    progress: "completed",
    package: "driver-drops/ci/0123456789abcdef/x.hlkx",
    productId: "13635057078410893",
    submissionId: "1152921505698764540",
    commitStatus: "commitComplete",
    currentStep: "finalizeIngestion",
    state: "completed",
    step: { index: 8, count: 8, name: "finalizeIngestion" },
    hasSignedPackage: true,
    messages: [],
    errorReportContent: null,
    errorReport: null,
    error: null,
    elapsedSeconds: 12,
    stageHistory: [],
    createdTime: null,
    lastUpdatedTime: null,
  },
  files: [{ kind: "signedPackage", path: "signed/Signed_1152921505698764540.zip", bytes: 10, sha256: "a".repeat(64), verified: ["contentLength"] }],
};

test("outputs of a signed run keep the 64-bit ids exact", () => {
  expect(actionOutputs(signed, 0)).toEqual({
    "instance-id": "abc",
    "product-id": "13635057078410893",
    "submission-id": "1152921505698764540",
    "signed-package-path": "signed/Signed_1152921505698764540.zip",
    status: "signed",
    "exit-code": "0",
  });
  expect(actionOutputs(undefined, 2)).toMatchObject({ status: "error", "instance-id": "", "exit-code": "2" });
});

test("the compiled script appends the outputs to $GITHUB_OUTPUT", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-outputs-"));
  try {
    const result = path.join(dir, "result.json");
    const outputs = path.join(dir, "outputs");
    fs.writeFileSync(result, JSON.stringify({ ...signed, exitCode: 0 }));
    const run = spawnSync(process.execPath, [path.join(ROOT, "dist/cli/githubOutputs.js"), result, "0"], { env: { ...process.env, GITHUB_OUTPUT: outputs }, encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(fs.readFileSync(outputs, "utf8")).toContain("submission-id=1152921505698764540\nsigned-package-path=signed/Signed_1152921505698764540.zip\nstatus=signed\n");
    // No document (the CLI crashed): still outputs, status error.
    fs.writeFileSync(result, "");
    spawnSync(process.execPath, [path.join(ROOT, "dist/cli/githubOutputs.js"), result, "3"], { env: { ...process.env, GITHUB_OUTPUT: outputs } });
    expect(fs.readFileSync(outputs, "utf8")).toContain("status=error\nexit-code=3\n");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("action.yml declares the inputs and outputs and runs the built CLI", () => {
  const action = fs.readFileSync(path.join(ROOT, "action.yml"), "utf8");
  for (const input of ["package", "product-fields", "preproduction", "url", "key", "audience", "token-file", "timeout", "out"]) expect(action).toMatch(new RegExp(`^  ${input}:$`, "m"));
  // Entra ID (issue 31): the inputs reach the CLI's own env names; the key is optional beside them.
  expect(action).toContain("DRIVER_SIGN_AUDIENCE: ${{ inputs.audience }}");
  expect(action).toContain("DRIVER_SIGN_TOKEN_FILE: ${{ inputs.token-file }}");
  expect(action).toMatch(/^  key:\n(?:    .*\n)*?    required: false$/m);
  for (const output of ["instance-id", "product-id", "submission-id", "signed-package-path", "status"]) {
    expect(action).toContain(`value: \${{ steps.sign.outputs.${output} }}`);
    expect(Object.keys(actionOutputs(signed, 0))).toContain(output);
  }
  // preproduction: true adds the CLI's --preproduction (issue 40), nothing else does.
  expect(action).toContain('if [ "$INPUT_PREPRODUCTION" = "true" ]; then args+=(--preproduction); fi');
  expect(action).toContain("using: composite");
  expect(action).toMatch(/node-version: 22/);
  expect(action).toContain("npm ci");
  for (const script of ["dist/cli/driverSign.js", "dist/cli/githubOutputs.js"]) {
    expect(action).toContain(`$GITHUB_ACTION_PATH/${script}`);
    expect(fs.existsSync(path.join(ROOT, script))).toBe(true);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
  expect(pkg.bin["driver-sign"]).toBe("dist/cli/driverSign.js");
  expect(fs.readFileSync(path.join(ROOT, "dist/cli/driverSign.js"), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
});
