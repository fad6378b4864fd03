/** The body of POST /api/submissions: a package to sign (new product), or ids to resume. */
import { z } from "zod";
import { blobNameProblem, containerNameProblem, packageExtension, PACKAGE_EXTENSIONS } from "../../domain/packageRules";
import type { PublishPolicy } from "../../domain/publishing";
import { parsePublishPolicy } from "../../publishing/policySchema";
import { type FieldProblem, type Parsed, problemsFromZod } from "./fieldProblems";
import { type ProductFieldOverrides, productFieldsSchema, submissionNameSchema, submissionTypeSchema } from "./productFields";
import { preprodCombinationProblems, signingSchema } from "./signing";

const decimalId = z
  .string({ error: "must be a decimal digit string (ids exceed 2^53, so send them as JSON strings)" })
  .regex(/^[0-9]{1,20}$/, "must be a decimal digit string of at most 20 digits");

const packageObject = z.strictObject({
  container: z.string({ error: "must be a string" }),
  blobName: z.string({ error: "must be a string" }),
});

const bodySchema = z.strictObject({
  package: z.union([z.string(), packageObject], {
    error: (issue) => (issue.input === undefined ? "is required" : 'must be "container/blobName" or {"container", "blobName"}'),
  }),
  product: productFieldsSchema.optional(),
  submissionName: submissionNameSchema.optional(),
  submissionType: submissionTypeSchema.optional(),
  productId: decimalId.optional(),
  submissionId: decimalId.optional(),
  /** Checked by parsePublishPolicy (shape and cross-field rules), problems named publish.<field>. */
  publish: z.unknown().optional(),
  /** Preproduction signing (issue 40); absent = a product submission. */
  signing: signingSchema.optional(),
});

export interface StartSubmissionRequest {
  package: { container: string; blobName: string };
  product?: ProductFieldOverrides;
  submissionName?: string;
  submissionType?: "initial" | "derived";
  resume?: { productId: string; submissionId?: string };
  publish?: PublishPolicy;
  signing?: "preproduction";
}

/** Checks the package reference's container and blob name; problems are named after the field the user wrote. */
function packageProblems(
  reference: string | { container: string; blobName: string },
): { value?: { container: string; blobName: string }; problems: FieldProblem[] } {
  const asString = typeof reference === "string";
  const slash = asString ? reference.indexOf("/") : -1;
  if (asString && slash <= 0) {
    return { problems: [{ field: "package", reason: 'must be "container/blobName"' }] };
  }
  const container = asString ? reference.slice(0, slash) : reference.container;
  const blobName = asString ? reference.slice(slash + 1) : reference.blobName;
  const problems: FieldProblem[] = [];
  const containerIssue = containerNameProblem(container);
  if (containerIssue) problems.push({ field: asString ? "package" : "package.container", reason: `container ${containerIssue}` });
  const nameIssue = blobNameProblem(blobName) ?? (packageExtension(blobName) ? undefined : `must end in ${PACKAGE_EXTENSIONS.join(", ")}`);
  if (nameIssue) problems.push({ field: asString ? "package" : "package.blobName", reason: `blob name ${nameIssue}` });
  return problems.length > 0 ? { problems } : { value: { container, blobName }, problems };
}

export function parseStartSubmission(body: unknown): Parsed<StartSubmissionRequest> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  }
  const result = bodySchema.safeParse(body);
  const problems = result.success ? [] : problemsFromZod(result.error);
  // The package is checked even when other fields are bad, so one response lists everything.
  const rawPackage = (body as Record<string, unknown>).package;
  const packageCheck =
    typeof rawPackage === "string" || packageObject.safeParse(rawPackage).success
      ? packageProblems(rawPackage as string | { container: string; blobName: string })
      : { problems: [] };
  problems.push(...packageCheck.problems);
  const data = result.success ? result.data : undefined;
  const rawPublish = (body as Record<string, unknown>).publish;
  const publish = rawPublish === undefined ? undefined : parsePublishPolicy(rawPublish);
  if (publish && !publish.ok) problems.push(...publish.problems);
  if (data?.submissionId !== undefined && data.productId === undefined) {
    problems.push({ field: "submissionId", reason: "requires productId (the product the submission belongs to)" });
  }
  if (data?.product !== undefined && data.productId !== undefined) {
    problems.push({ field: "product", reason: "cannot be combined with productId: a resumed product already exists" });
  }
  if (data) problems.push(...preprodCombinationProblems(data));
  if (problems.length > 0 || !data || !packageCheck.value || (publish && !publish.ok)) return { ok: false, problems };

  return {
    ok: true,
    value: {
      package: packageCheck.value,
      product: data.product,
      submissionName: data.submissionName,
      submissionType: data.submissionType,
      resume: data.productId !== undefined ? { productId: data.productId, submissionId: data.submissionId } : undefined,
      ...(publish?.ok ? { publish: publish.value } : {}),
      ...(data.signing ? { signing: data.signing } : {}),
    },
  };
}
