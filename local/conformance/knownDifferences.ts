/**
 * Differences between Microsoft's engine and ours that are understood and left open, each with its reason
 * (the same list, in prose, is local/conformance/KNOWN-DIFFERENCES.md). A difference the harness finds that
 * matches none of these fails the run.
 */
import type { Difference } from "./compare";

export interface KnownDifference {
  id: string;
  /** Scenario names it applies to (all when omitted). */
  scenario?: RegExp;
  /** The compared field, as the report prints it. */
  field: RegExp;
  /** A further condition on the two values. */
  values?: (real: unknown, local: unknown) => boolean;
  reason: string;
}

/**
 * The text with what the Functions host writes removed: stack frames ("\n   at ..." lines, at any depth of JSON
 * escaping) and the host exception's StackTrace, Source and RemoteTypeName values.
 */
function withoutHostText(value: unknown): string {
  return (JSON.stringify(value) ?? "")
    .replace(/(\\*")(StackTrace|StackTraceString|Source|RemoteTypeName)\1:(?:null|\1(?:(?!\1[,}])[\s\S])*\1)/g, "$2")
    .replace(/(\\+n)\s+at (?:(?!\\+n|\\*")[\s\S])*/g, "");
}

/**
 * The value with the sizes and MD5s of the blobs the app writes from per-run ids (the result manifest, the
 * emulator's driver metadata) taken out, also inside JSON-encoded activity results.
 */
function withoutIdDependentBlobFacts(value: unknown): string {
  const omitFacts = (blob: object) => Object.fromEntries(Object.entries(blob).filter(([k]) => k !== "contentLength" && k !== "contentMd5"));
  const strip = (v: unknown): unknown => {
    if (typeof v === "string" && v.startsWith("{")) {
      try {
        return strip(JSON.parse(v));
      } catch {
        return v;
      }
    }
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === "object") {
      // writeResultManifest's own result: the manifest blob's location.
      if (typeof (v as { blobName?: unknown }).blobName === "string" && (v as { blobName: string }).blobName.endsWith("/manifest.json")) return omitFacts(v);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, (k === "manifest" || k === "driverMetadata") && x && typeof x === "object" ? omitFacts(x) : strip(x)]));
    }
    return v;
  };
  return JSON.stringify(strip(value)) ?? "";
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    id: "unread-event-fields",
    field: /^(payload|status)\.history\[\d+\]\.(OrchestrationInstance|Generation|GenerateNewTrace|Version)$/,
    reason: "DTFx fields of ExecutionStarted/TaskScheduled that durable-functions and the app never read (execution id, generation, trace flag, empty version).",
  },
  {
    id: "host-exception-text",
    field: /./,
    values: (real, local) => withoutHostText(real) === withoutHostText(local),
    reason: "Text that comes from the Functions host, which is not available offline: stack frames (the host's .NET frames, and the JS frames below the handler, which are the worker's in Azure and our engine's locally) and the host RpcException's StackTrace, Source and RemoteTypeName. Messages, reasons and the rest of the details are compared.",
  },
  {
    id: "timer-fires-early",
    scenario: /^durableTimer$/,
    field: /sleptAtLeastMs$/,
    reason: "Azure Storage queues take a message's visibility delay in whole seconds, so a durable timer can fire up to 1 s before its FireAt (seen: 0.9 s early on Azurite); our engine fires at FireAt. The history's FireAt is the same on both.",
  },
  {
    id: "terminate-runs-an-episode",
    scenario: /^terminate$/,
    field: /^payload\.(history\.length|history\[\d+\]\.IsPlayed|isReplaying)$/,
    reason: "The extension runs the orchestrator once more with ExecutionTerminated in its history (the result is ignored); our engine ends the instance without calling it, so the latest payloads differ (length, IsPlayed, isReplaying). Orchestrators are pure, so nothing observable follows.",
  },
  {
    id: "undefined-activity-result",
    scenario: /^activitySequence$/,
    field: /^payload\.history\[\d+\]\.Result$/,
    values: (real, local) => real === null && local === "null",
    reason: "An activity that returns nothing: TaskCompleted.Result is null on the extension (the harness's host gives it no return value) and \"null\" on ours; durable-functions reads both as no result (the outputs are equal).",
  },
  {
    id: "date-reformat",
    field: /./,
    values: (real, local) => {
      const reformat = (text: string) => text.replace(/(T\d{2}:\d{2}:\d{2})\.000Z/g, "$1Z");
      return JSON.stringify(real) === reformat(JSON.stringify(local) ?? "") && JSON.stringify(real) !== JSON.stringify(local);
    },
    reason: "An ISO date string inside an activity's object input comes back from .NET reformatted (\"…05.000Z\" → \"…05Z\"): the extension's JSON round trip parses it as a DateTime. Imitating Newtonsoft's date handling in our engine would change the app's data locally for no gain; the app must not rely on the exact text.",
  },
  {
    id: "app-blobs-hold-run-ids",
    scenario: /^app/,
    // The size field of writeResultManifest's result in the history view is the one top-level contentLength.
    field: /(^|\.)(manifest|driverMetadata)\.(contentLength|contentMd5)$|^status\.history\[\d+\]\.Result\.contentLength$|^(payload|status)\.history\[\d+\]\.Result$/,
    // A size or MD5 field itself (the field pattern names it), or an activity result equal without them.
    values: (real, local) =>
      (typeof real === "number" && typeof local === "number") ||
      (typeof real === "string" && typeof local === "string" && /^[A-Za-z0-9+/]{22}==$/.test(real) && /^[A-Za-z0-9+/]{22}==$/.test(local)) ||
      withoutIdDependentBlobFacts(real) === withoutIdDependentBlobFacts(local),
    reason: "App scenarios: the result manifest and the emulator's driver metadata are blobs whose text holds the run's instance, product and submission ids, which differ between the two runs (and differ in length), so their sizes and MD5s differ. The signed package's size and MD5 are compared (same bytes on both).",
  },
  {
    id: "parent-instance-field",
    field: /^payload\.history\[\d+\]\.(ParentInstance|ParentInstanceId)$/,
    reason: "A sub-orchestration's ExecutionStarted names its parent as DTFx's ParentInstance object (name, instance and execution id, TaskScheduleId) on the extension and as ParentInstanceId on ours. durable-functions reads the parent from the trigger payload's top-level parentInstanceId (compared, equal), never from this event; the HTTP API's history view drops both.",
  },
];

export function knownDifferenceFor(scenario: string, difference: Difference): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((k) =>
    (!k.scenario || k.scenario.test(scenario)) && k.field.test(difference.field) && (!k.values || k.values(difference.real, difference.local)));
}
