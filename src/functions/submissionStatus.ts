/** GET /api/submissions/{id} and GET /api/submissions?status=…: friendly views of orchestration status. */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { ORCHESTRATOR_NAME } from "../activities/contract";
import { isValidInstanceId } from "../shared/instanceId";
import { durableClientFor, findInstance } from "./durableClient";
import { toSubmissionView } from "./submissionView";
import { invalidRequest } from "./validation/fieldProblems";
import { parseStatusFilter } from "./validation/listQuery";

export async function handleSubmissionStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!isValidInstanceId(id)) return invalidRequest([{ field: "id", reason: "must be 1-100 letters, digits, '-' or '_'" }]);
  const status = await findInstance(durableClientFor(context), id);
  if (!status) return { status: 404, jsonBody: { error: `no submission with id ${id}` } };
  return { status: 200, jsonBody: toSubmissionView(status) };
}

export async function handleListSubmissions(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const filter = parseStatusFilter(request.query.get("status"));
  if (!filter.ok) return invalidRequest(filter.problems);
  const client = durableClientFor(context);
  const statuses =
    filter.value.length > 0
      ? await client.getStatusBy({ runtimeStatus: filter.value as df.OrchestrationRuntimeStatus[] })
      : await client.getStatusAll();
  const views = statuses
    .filter((status) => status.name === ORCHESTRATOR_NAME)
    .map(toSubmissionView)
    .sort((a, b) => (b.createdTime ?? "").localeCompare(a.createdTime ?? ""));
  return { status: 200, jsonBody: views };
}

app.http("submissionStatus", {
  route: "submissions/{id}",
  methods: ["GET"],
  authLevel: "function",
  extraInputs: [df.input.durableClient()],
  handler: handleSubmissionStatus,
});

app.http("listSubmissions", {
  route: "submissions",
  methods: ["GET"],
  authLevel: "function",
  extraInputs: [df.input.durableClient()],
  handler: handleListSubmissions,
});
