/** GET /api/submissions/{id} and GET /api/submissions (paged, filtered): friendly views of orchestration status. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { isListedSubmissionName } from "../orchestrators/versions";
import { isValidInstanceId } from "../domain/instanceId";
import { durableClientFor, findInstance } from "../instances/durableClient";
import { instancePagerFor } from "../instances/instancePages";
import { labelRuns } from "./labels";
import { type SubmissionView, toSubmissionView } from "../domain/submissionView";
import { invalidRequest } from "./validation/fieldProblems";
import { encodeContinuationToken, parseListQuery } from "./validation/listQuery";
import { bodyLimited } from "./requestBody";
import { isVisibleTo, mayTouchInstance } from "./access";
import { HTTP_AUTH_LEVEL } from "./callerGate";

export async function handleSubmissionStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([{ field: "id", reason: "must be 1-100 letters, digits, '-' or '_'" }]);
  const client = durableClientFor(context);
  const status = await findInstance(client, id, { showInput: true });
  // Someone else's submission is not found, exactly like one that does not exist.
  if (!status || !isListedSubmissionName(status.name) || !mayTouchInstance(context, "submission.status", status)) {
    return { status: 404, jsonBody: { error: `no submission with id ${id}` } };
  }
  const view = toSubmissionView(status);
  // The label's live state is in its own publishLabel instance (the submission may be finished).
  const latest = (await labelRuns(client, id)).at(-1)?.label;
  return { status: 200, jsonBody: latest ? { ...view, label: latest } : view };
}

/**
 * One page of submissions: at most `top` instances are read from the task hub per request; other
 * orchestrations, (with `package`) other packages and (without Sign.Operate) other owners'
 * submissions are dropped from the page, so a page may hold
 * fewer than `top` items and still have a continuationToken.
 */
export async function handleListSubmissions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const parsed = parseListQuery(request.query);
  if (!parsed.ok) return invalidRequest(parsed.problems);
  const query = parsed.value;
  const page = await instancePagerFor(context)({
    top: query.top,
    continuationToken: query.continuationToken,
    createdTimeFrom: query.createdFrom,
    createdTimeTo: query.createdTo,
    runtimeStatus: query.status,
    showInput: true,
  });
  const items = page.instances
    .filter((status) => isListedSubmissionName(status.name) && isVisibleTo(context, "submission.list", status))
    .map(toSubmissionView)
    .filter((view) => !query.package || matchesPackage(view, query.package))
    .sort((a, b) => (b.createdTime ?? "").localeCompare(a.createdTime ?? ""));
  return {
    status: 200,
    jsonBody: { items, ...(page.continuationToken ? { continuationToken: encodeContinuationToken(page.continuationToken) } : {}) },
  };
}

function matchesPackage(view: SubmissionView, wanted: { container: string; blobPrefix: string }): boolean {
  return view.package?.container === wanted.container && view.package.blobName.startsWith(wanted.blobPrefix);
}

app.http("submissionStatus", {
  route: "submissions/{id}",
  methods: ["GET"],
  authLevel: HTTP_AUTH_LEVEL,
  extraInputs: [df.input.durableClient()],
  handler: bodyLimited("submissionStatus", "submission.status", handleSubmissionStatus),
});

app.http("listSubmissions", {
  route: "submissions",
  methods: ["GET"],
  authLevel: HTTP_AUTH_LEVEL,
  extraInputs: [df.input.durableClient()],
  handler: bodyLimited("listSubmissions", "submission.list", handleListSubmissions),
});
