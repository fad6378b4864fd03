/**
 * Failure text exactly as the Durable extension (out-of-proc JS, Azure Storage) writes it, so orchestrators
 * and status readers see locally what they will see in Azure. Facts from the extension's TaskActivityShim,
 * OutOfProcExceptionHelpers, TaskOrchestrationShim / OutOfProcOrchestrationShim, MessagePayloadDataConverter,
 * the Functions host's RpcException and the Node.js worker (see /work/wt/notes/failure-format.md).
 */

/** What the Node.js worker sends for a thrown value (its ensureErrorType): always an Error with a message. */
export function ensureErrorType(thrown: unknown): Error {
  if (thrown instanceof Error) {
    return Object.getOwnPropertyDescriptor(thrown, "message")?.writable === false ? new Error(JSON.stringify(thrown)) : thrown;
  }
  if (thrown === undefined || thrown === null) return new Error("Unknown error");
  if (typeof thrown === "string") return new Error(thrown);
  return new Error(typeof thrown === "object" ? JSON.stringify(thrown) : String(thrown));
}

/** The host's RpcException message for a failed invocation ("Result: ...\nException: ...\nStack: ..."). */
export function rpcExceptionMessage(message: string, stack: string | undefined): string {
  return `Result: Failure\nException: ${message}\nStack: ${stack ?? ""}`;
}

const MESSAGE_LABEL = "\nException:";
const STACK_LABEL = "\nStack:";
const OUT_OF_PROC_DATA_LABEL = "\n\n$OutOfProcData$:";

/**
 * The older parse (extension before 3.16.2, and 3.16.2+ for an exception that is not the host's RpcException):
 * the text between "\nException:" and "\nStack:", cut at "$OutOfProcData$". The label has no trailing space,
 * so the result keeps a leading one. Activity failures no longer take this path (see activityFailure).
 */
export function friendlyMessage(rpcMessage: string): string | undefined {
  if (!rpcMessage.startsWith("Result:") || !rpcMessage.includes(MESSAGE_LABEL) || !rpcMessage.includes(STACK_LABEL)) return undefined;
  const start = rpcMessage.indexOf(MESSAGE_LABEL) + MESSAGE_LABEL.length;
  const full = rpcMessage.slice(start, rpcMessage.indexOf(STACK_LABEL));
  const data = full.indexOf(OUT_OF_PROC_DATA_LABEL);
  return data === -1 ? full : full.slice(0, data);
}

/** Where the host threw the RpcException; .NET frames, fixed here (the extension serialises the real ones). */
const HOST_RPC_STACK =
  "   at Microsoft.Azure.WebJobs.Script.Description.WorkerFunctionInvoker.InvokeCore(Object[] parameters, FunctionInvocationContext context)\n" +
  "   at Microsoft.Azure.WebJobs.Script.Description.FunctionInvokerBase.Invoke(Object[] parameters)\n" +
  "   at Microsoft.Azure.WebJobs.Host.Executors.FunctionInvoker`2.InvokeAsync(Object instance, Object[] arguments)";

/**
 * Where the orchestrator shim caught the failed invocation (the StackTrace part of an orchestrator failure's
 * details), as the extension 3.19.0 writes it (seen by the conformance harness; line numbers are its build's).
 */
const ORCHESTRATOR_SHIM_STACK =
  "   at System.Threading.Tasks.Task.ThrowIfExceptional(Boolean includeTaskCanceledExceptions)\n" +
  "   at System.Threading.Tasks.Task`1.GetResultCore(Boolean waitCompletionNotification)\n" +
  "   at Microsoft.Azure.WebJobs.Extensions.DurableTask.TaskOrchestrationShim.InvokeUserCodeAndHandleResults(RegisteredFunctionInfo orchestratorInfo, OrchestrationContext innerContext)" +
  " in /_/src/WebJobs.Extensions.DurableTask/Listener/TaskOrchestrationShim.cs:line 148";

const HRESULT_COR_E_EXCEPTION = -2146233088;

/**
 * Utils.SerializeCause(new Exception(friendly, rpcException), ErrorDataConverter): Newtonsoft with
 * TypeNameHandling.Objects; System.Exception goes through ISerializable, the host's RpcException through its properties.
 */
function serializeCause(friendly: string, jsMessage: string, jsStack: string | undefined, rpcMessage: string): string {
  return JSON.stringify({
    $type: "System.Exception, System.Private.CoreLib",
    ClassName: "System.Exception",
    Message: friendly,
    Data: null,
    InnerException: {
      $type: "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script",
      IsUserException: false,
      RemoteStackTrace: jsStack ?? "",
      RemoteMessage: jsMessage,
      RemoteTypeName: null,
      Message: rpcMessage,
      Data: { $type: "System.Collections.ListDictionaryInternal, System.Private.CoreLib" },
      InnerException: null,
      HelpLink: null,
      Source: "System.Private.CoreLib",
      HResult: HRESULT_COR_E_EXCEPTION,
      StackTrace: HOST_RPC_STACK,
    },
    HelpURL: null,
    StackTraceString: null,
    RemoteStackTraceString: null,
    RemoteStackIndex: 0,
    ExceptionMethod: null,
    HResult: HRESULT_COR_E_EXCEPTION,
    Source: null,
    WatsonBuckets: null,
  });
}

export interface FailureText {
  reason: string;
  details: string;
}

/**
 * TaskFailed Reason/Details for a JS activity that threw `thrown`. The extension (3.16.2 and later; the pinned
 * 3.19.0 of the conformance harness shows it) reads the host RpcException's RemoteMessage: the worker's message
 * as it is, so one space after "failed:" (the older parse gave two).
 */
export function activityFailure(activityName: string, thrown: unknown): FailureText {
  const error = ensureErrorType(thrown);
  const rpcMessage = rpcExceptionMessage(error.message, error.stack);
  const friendly = error.message;
  return {
    reason: `Activity function '${activityName}' failed: ${friendly}`,
    details: serializeCause(friendly, error.message, error.stack, rpcMessage),
  };
}

/**
 * The orchestrator returned an `error` in its out-of-proc state (it threw): OutOfProcOrchestrationShim fails the
 * instance with this reason (the status output) and details (the parent's SubOrchestrationInstanceFailed.Details).
 */
export function orchestratorFailure(orchestratorName: string, error: string): FailureText {
  return {
    reason: `Orchestrator function '${orchestratorName}' failed: ${error}`,
    details: `Message: ${error}, StackTrace: ${ORCHESTRATOR_SHIM_STACK}`,
  };
}

const HRESULT_E_INVALIDARG = -2147024809;

/**
 * The custom status check throws inside the shim's normal path: OrchestrationFailureException with
 * "Orchestrator function '<name>' failed: <message>" and the serialized ArgumentException as details.
 */
export function customStatusFailure(orchestratorName: string, message: string): FailureText {
  return {
    reason: `Orchestrator function '${orchestratorName}' failed: ${message}`,
    details: JSON.stringify({
      $type: "System.ArgumentException, System.Private.CoreLib",
      ClassName: "System.ArgumentException",
      Message: message,
      Data: null,
      InnerException: null,
      HelpURL: null,
      StackTraceString: "   at Microsoft.Azure.WebJobs.Extensions.DurableTask.MessagePayloadDataConverter.Serialize(Object value, Int32 maxSizeInKB)",
      RemoteStackTraceString: null,
      RemoteStackIndex: 0,
      ExceptionMethod: null,
      HResult: HRESULT_E_INVALIDARG,
      Source: "Microsoft.Azure.WebJobs.Extensions.DurableTask",
      WatsonBuckets: null,
      ParamName: null,
    }),
  };
}

/** MessagePayloadDataConverter.Serialize(customStatus, 16): the UTF-16 size, truncated to whole KB, must not exceed 16. */
export const MAX_CUSTOM_STATUS_KB = 16;

export function customStatusSizeError(customStatus: unknown): string | undefined {
  if (customStatus === undefined || customStatus === null) return undefined;
  const json = JSON.stringify(customStatus);
  const sizeKb = Math.floor((json.length * 2) / 1024); // JS strings are UTF-16 code units, 2 bytes each
  if (sizeKb <= MAX_CUSTOM_STATUS_KB) return undefined;
  return `The UTF-16 size of the JSON-serialized payload must not exceed ${MAX_CUSTOM_STATUS_KB.toLocaleString("en-US")} KB. ` +
    `The current payload size is ${sizeKb.toLocaleString("en-US")} KB.`;
}
