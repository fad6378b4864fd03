/**
 * Failure text in the Durable extension's real format (literal strings as the orchestrator receives
 * them in Azure; /work/wt/notes/failure-format.md) and in the plain format of local engines.
 */
import { failureText, isTerminalFailure, orchestrationFailureText } from "../../../src/domain/failureText";
import { describeActivityError } from "../../../src/orchestrators/activityCalls";
import { toSubmissionView } from "../../../src/domain/submissionView";
import { activityFailure } from "../../../local/durable/failures";

/** One-line .NET exception JSON, as the extension writes TaskFailed.Details (newlines escaped). */
function detailsJson(jsMessage: string): string {
  const stack = `Error: ${jsMessage}\n    at createProduct (/home/site/wwwroot/dist/src/activities/createProduct.js:41:15)`;
  return JSON.stringify({
    $type: "System.Exception, System.Private.CoreLib",
    ClassName: "System.Exception",
    Message: ` ${jsMessage}`,
    Data: null,
    InnerException: {
      $type: "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
      IsUserException: false,
      RemoteStackTrace: stack,
      RemoteMessage: jsMessage,
      RemoteTypeName: null,
      Message: `Result: Failure\nType: \nException: ${jsMessage}\nStack: ${stack}`,
      StackTrace: "   at Microsoft.Azure.WebJobs.Script.Description.WorkerFunctionInvoker.InvokeCore(Object[] parameters, FunctionInvocationContext context)",
    },
    HResult: -2146233088,
  });
}

/** What durable-functions 3.5.0 throws into the generator: new Error(Reason + " \n " + Details). */
const azureActivityError = (name: string, jsMessage: string, friendly = jsMessage) =>
  new Error(`Activity function '${name}' failed:  ${friendly} \n ${detailsJson(jsMessage)}`);

describe("activity failures in the extension's format", () => {
  test("literal TaskFailed text: terminal marker found, clean message without prefix, JSON or stack", () => {
    const literal = new Error(
      "Activity function 'createProduct' failed:  [terminal] 400 Bad Request: productName is invalid \n " +
        String.raw`{"$type":"System.Exception, System.Private.CoreLib","ClassName":"System.Exception","Message":" [terminal] 400 Bad Request: productName is invalid","Data":null,"InnerException":{"$type":"Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script","IsUserException":false,"RemoteStackTrace":"Error: [terminal] 400 Bad Request: productName is invalid\n    at createProduct (/home/site/wwwroot/dist/src/activities/createProduct.js:41:15)","RemoteMessage":"[terminal] 400 Bad Request: productName is invalid","RemoteTypeName":null,"Message":"Result: Failure\nType: \nException: [terminal] 400 Bad Request: productName is invalid\nStack: Error: [terminal] 400 Bad Request: productName is invalid\n    at createProduct (/home/site/wwwroot/dist/src/activities/createProduct.js:41:15)","Data":{"$type":"System.Collections.ListDictionaryInternal, System.Private.CoreLib"},"InnerException":null,"HelpLink":null,"Source":"System.Private.CoreLib","HResult":-2146233088,"StackTrace":"   at Microsoft.Azure.WebJobs.Script.Description.WorkerFunctionInvoker.InvokeCore(...)"},"HelpURL":null,"StackTraceString":null,"RemoteStackTraceString":null,"RemoteStackIndex":0,"ExceptionMethod":null,"HResult":-2146233088,"Source":null,"WatsonBuckets":null}`,
    );
    expect(isTerminalFailure(literal)).toBe(true);
    expect(describeActivityError(literal)).toBe("400 Bad Request: productName is invalid");
  });

  test("the extension 3.19.0's form (one space after \"failed:\", as the conformance harness saw it) reads the same", () => {
    // Built by local/durable's activityFailure, which writes what Microsoft's engine wrote in local/conformance.
    const { reason, details } = activityFailure("createProduct", new Error("[terminal] 400 Bad Request: productName is invalid"));
    expect(reason).toBe("Activity function 'createProduct' failed: [terminal] 400 Bad Request: productName is invalid");
    const error = new Error(`${reason} \n ${details}`);
    expect(isTerminalFailure(error)).toBe(true);
    expect(describeActivityError(error)).toBe("400 Bad Request: productName is invalid");
    const transient = activityFailure("copyPackage", new Error("503 Service Unavailable"));
    expect(isTerminalFailure(new Error(`${transient.reason} \n ${transient.details}`))).toBe(false);
    expect(describeActivityError(new Error(`${transient.reason} \n ${transient.details}`))).toBe("503 Service Unavailable");
  });

  test("a transient failure is not terminal; its message is shown as the activity wrote it", () => {
    const error = azureActivityError("copyPackage", "503 Service Unavailable");
    expect(isTerminalFailure(error)).toBe(false);
    expect(describeActivityError(error)).toBe("503 Service Unavailable");
  });

  test("the details' RemoteMessage wins when the host cut the friendly message at a \"\\nStack:\" inside it", () => {
    const message = "copy failed \n retry later\nStack: not a stack";
    const error = azureActivityError("copyPackage", message, "copy failed \n retry later");
    expect(describeActivityError(error)).toBe(message);
  });

  test("the marker is never read from the stack or JSON alone: a message that does not carry it is transient", () => {
    const error = new Error(`Activity function 'x' failed:  boom \n ${detailsJson("boom").replace('"Data":null', '"Data":"[terminal]"')}`);
    expect(isTerminalFailure(error)).toBe(false);
  });

  test("older hosts: the whole RpcException text in the reason", () => {
    const error = new Error(
      "Activity function 'commitSubmission' failed: Result: Failure\nException: [terminal] 422 commit refused\nStack: Error: [terminal] 422 commit refused\n    at x (/a.js:1:1) \n Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException: ...",
    );
    expect(isTerminalFailure(error)).toBe(true);
    expect(describeActivityError(error)).toBe("422 commit refused");
  });

  test("plain errors and the local engine's plain format still work", () => {
    expect(isTerminalFailure(new Error("[terminal] boom"))).toBe(true);
    expect(failureText(new Error("[terminal] boom"))).toBe("boom");
    const local = new Error("Activity function 'copyPackage' failed: 502 Bad Gateway \n Error: 502 Bad Gateway\n    at Object.<anonymous> (/x.js:1:1)");
    expect(isTerminalFailure(local)).toBe(false);
    expect(describeActivityError(local)).toBe("502 Bad Gateway");
  });

  test("secrets in the message are redacted; the JSON details (with paths and stacks) never reach the text", () => {
    const error = azureActivityError("copyPackage", "PUT https://x.blob.core.windows.net/c/b?sv=1&sig=SECRETSIG failed");
    const text = describeActivityError(error);
    expect(text).toBe("PUT https://x.blob.core.windows.net/c/b?sv=1&sig=REDACTED failed");
    expect(text).not.toMatch(/\$type|RpcException|\/home\/site|StackTrace/);
  });
});

describe("a failed orchestration's output", () => {
  const ours = "Driver submission failed at stage creatingProduct: createProduct failed: 400 Bad Request.";
  test("our message without the host's \"Orchestrator function … failed:\" prefix", () => {
    expect(orchestrationFailureText(`Orchestrator function 'submitDriver' failed: ${ours}`)).toBe(ours);
    expect(orchestrationFailureText(ours)).toBe(ours);
  });

  test("an activity failure that escaped the orchestrator is shown as the activity's message", () => {
    const output = `Orchestrator function 'submitDriver' failed: ${azureActivityError("authenticate", "[terminal] AADSTS7000215: invalid client secret").message}`;
    expect(orchestrationFailureText(output)).toBe("AADSTS7000215: invalid client secret");
  });

  test("the status view's error (no custom status error) is the clean text", () => {
    const view = toSubmissionView({
      name: "submitDriver",
      instanceId: "drv-1",
      runtimeStatus: "Failed",
      customStatus: { stage: "creatingProduct", package: { container: "driver-drops", blobName: "a.hlkx" }, updatedAt: "2025-01-01T00:00:00Z" },
      output: `Orchestrator function 'submitDriver' failed: ${azureActivityError("createProduct", "[terminal] 400 Bad Request").message}`,
      createdTime: new Date("2025-01-01T00:00:00Z"),
      lastUpdatedTime: new Date("2025-01-01T00:00:00Z"),
      input: null,
    } as never);
    expect(view.error).toBe("400 Bad Request");
    expect(view.stage).toBe("failed");
  });
});
