/**
 * Failures in the Durable Task Scheduler's format. With that backend a failed orchestration's status
 * reports `failureDetails` ({errorType, errorMessage, stackTrace, innerFailure, isNonRetriable}, the
 * scheduler protocol's TaskFailureDetails) instead of the Azure Storage backend's output text, and a
 * failed activity reaches the orchestrator as durable-functions' TaskFailedError. The fixture is a
 * failed submitDriver instance in that format (built from the protocol's shape, not captured from a
 * live scheduler): the custom status still at "uploading" (the failing episode's status was not
 * kept), the app's message with its [terminal] marker, and the activity's failure as innerFailure,
 * with a SAS URL in its message and a bearer token in its stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TaskFailedError } from "durable-functions";
import { failureText, isTerminalFailure, orchestrationStatusFailureText, readFailureDetails } from "../../../src/domain/failureText";
import { toSubmissionView } from "../../../src/domain/submissionView";
import { describeActivityError } from "../../../src/orchestrators/activityCalls";

const fixture = path.join(__dirname, "../../fixtures/durable-task-scheduler/failed-submitDriver-status.json");
const recorded = () => JSON.parse(fs.readFileSync(fixture, "utf8")) as Record<string, unknown> & { failureDetails: Record<string, unknown> };

const SAS_SIG = "q8Zk3VvN1xR0t4mYw2Lc%2BfJ7sQe9uHaP5dXbG6oKiTs%3D";
const TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6Ik1uQ19WWmNBVGZNNXBPWWlKSE1iYTlnb0VLWSJ9";
const EXPECTED_ERROR =
  "Driver submission failed at stage uploading: upload of netadapter-2.4.1.hlkx refused: 403 AuthorizationFailure. Microsoft's messages: The upload URL has expired." +
  " Caused by: upload of netadapter-2.4.1.hlkx refused: 403 AuthorizationFailure on PUT" +
  " https://hwdcingestprod.blob.core.windows.net/ingestion/1152921505698416787/netadapter-2.4.1.hlkx?sv=2023-11-03&se=2026-11-30T09%3A14%3A10Z&sr=b&sp=cw&sig=REDACTED";

/** The status as durable-functions hands it over: times as Dates. */
const asStatus = (json: Record<string, unknown>) =>
  ({ ...json, createdTime: new Date(json.createdTime as string), lastUpdatedTime: new Date(json.lastUpdatedTime as string) }) as never;

describe("a failed submitDriver status from the Durable Task Scheduler", () => {
  test("the fixture is the scheduler's format: no output text, failureDetails with an innerFailure", () => {
    const status = recorded();
    expect(status.runtimeStatus).toBe("Failed");
    expect(status.output).toBeNull();
    const details = readFailureDetails(status.failureDetails)!;
    expect(details.errorType).toBe("Microsoft.Azure.WebJobs.Extensions.DurableTask.OrchestrationFailureException");
    expect(details.errorMessage).toContain("[terminal]");
    expect(details.innerFailure?.errorType).toBe("Error");
    expect(details.innerFailure?.stackTrace).toContain(TOKEN);
  });

  test("the view's error is the app's message and its cause, without the host's prefix or the marker, and redacted", () => {
    const view = toSubmissionView(asStatus(recorded()));
    expect(view.runtimeStatus).toBe("Failed");
    expect(view.stage).toBe("failed");
    expect(view.progress).toBe("failed");
    expect(view.error).toBe(EXPECTED_ERROR);
    // Nothing secret anywhere in the view: not the SAS signature of errorMessage, not the token of stackTrace.
    const shown = JSON.stringify(view);
    expect(shown).not.toContain(SAS_SIG);
    expect(shown).not.toContain(TOKEN);
    expect(shown).not.toContain("[terminal]");
    expect(shown).not.toContain("Orchestrator function");
    expect(shown).not.toContain("OutOfProcOrchestrationShim");
    // What the status recorded before the failing episode is still shown.
    expect(view.productId).toBe("13635870548489912");
    expect(view.stageHistory.map((s) => s.stage)).toEqual(["queued", "authenticating", "creatingProduct", "creatingSubmission", "uploading"]);
  });

  test("the same failure as the output (object or JSON text, .NET's PascalCase) reads the same", () => {
    const pascal = (d: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(d).map(([k, v]) => [k[0].toUpperCase() + k.slice(1), v && typeof v === "object" ? pascal(v as Record<string, unknown>) : v]));
    const { failureDetails, ...rest } = recorded();
    expect(toSubmissionView(asStatus({ ...rest, output: pascal(failureDetails) })).error).toBe(EXPECTED_ERROR);
    expect(toSubmissionView(asStatus({ ...rest, output: JSON.stringify(failureDetails) })).error).toBe(EXPECTED_ERROR);
  });

  test("a secret in the outer errorMessage is redacted too, and a cause the outer message already states is not repeated", () => {
    const status = recorded();
    status.failureDetails.errorMessage =
      "Orchestrator function 'submitDriver' failed: token request failed: Authorization: Bearer abc.def.ghi rejected; retry with ?sig=PLAIN";
    status.failureDetails.innerFailure = { errorType: "Error", errorMessage: "[terminal] token request failed", isNonRetriable: true };
    expect(orchestrationStatusFailureText(status)).toBe("token request failed: Authorization: Bearer REDACTED rejected; retry with ?sig=REDACTED");
  });

  test("the Azure Storage format is unchanged: the output text, also in FailureDetails.ToString() form", () => {
    const text = "Driver submission failed at stage committing: 409 Conflict.";
    expect(orchestrationStatusFailureText({ output: `Orchestrator function 'submitDriver' failed: ${text}` })).toBe(text);
    expect(
      orchestrationStatusFailureText({ output: `Microsoft.Azure.WebJobs.Extensions.DurableTask.OrchestrationFailureException: Orchestrator function 'submitDriver' failed: ${text}` }),
    ).toBe(text);
    expect(orchestrationStatusFailureText({ output: null })).toBeUndefined();
  });
});

describe("an activity failure the host reports with FailureDetails (TaskFailedError)", () => {
  // What durable-functions 3.5 throws into the orchestrator when TaskFailed carries FailureDetails.
  const taskFailed = (errorMessage: string) =>
    new TaskFailedError({ errorType: "Error", errorMessage, stackTrace: `Error: ${errorMessage}\n    at x (/a.js:1:1)`, isNonRetriable: false, isCausedBy: () => false });

  test("the marker is read from errorMessage and the text is the activity's own, not \"Error: ...\"", () => {
    const error = taskFailed("[terminal] 403 AuthorizationFailure on PUT https://x.blob.core.windows.net/c/b?sv=1&sig=SECRETSIG");
    expect(error.message.startsWith("Error: [terminal]")).toBe(true);
    expect(isTerminalFailure(error)).toBe(true);
    expect(failureText(error)).toBe("403 AuthorizationFailure on PUT https://x.blob.core.windows.net/c/b?sv=1&sig=SECRETSIG");
    expect(describeActivityError(error)).toBe("403 AuthorizationFailure on PUT https://x.blob.core.windows.net/c/b?sv=1&sig=REDACTED");
  });

  test("a transient one stays transient; the extension's \"Activity function … failed:\" prefix inside errorMessage is removed", () => {
    const error = taskFailed("Activity function 'copyPackage' failed: 503 Service Unavailable");
    expect(isTerminalFailure(error)).toBe(false);
    expect(describeActivityError(error)).toBe("503 Service Unavailable");
  });
});
