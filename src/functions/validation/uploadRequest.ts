/** The body of POST /api/uploads: which package the caller is about to upload, and its product fields. */
import { z } from "zod";
import { blobNameProblem, packageExtension, PACKAGE_EXTENSIONS } from "../../domain/packageRules";
import { type FieldProblem, type Parsed, problemsFromZod } from "./fieldProblems";
import { type ProductFieldOverrides, productFieldsSchema } from "./productFields";

/** A file name, not a path: the service chooses the folder. */
export const MAX_UPLOAD_FILE_NAME_LENGTH = 200;

const bodySchema = z.strictObject({
  fileName: z.string({ error: "must be a string" }),
  sha256: z.string({ error: "must be a string" }).regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal digits (the SHA-256 of the file)"),
  size: z
    .number({ error: "must be a number (bytes)" })
    .int("must be a whole number of bytes")
    .positive("must be at least 1 byte (an empty file is not a package)")
    .max(Number.MAX_SAFE_INTEGER, "is too large"),
  product: productFieldsSchema.optional(),
  /** An earlier upload of this file (from its answer): "already uploaded" is only ever said to its holder. */
  uploadId: z.string({ error: "must be a string" }).regex(/^[0-9a-f]{32}$/, "must be the 32 lower-case hexadecimal digits POST /api/uploads answered").optional(),
  /** That upload's key (answered once, with its URL): the id alone is public (it is in the blob's name). */
  uploadKey: z.string({ error: "must be a string" }).regex(/^[A-Za-z0-9_-]{43}$/, "must be the 43-character key POST /api/uploads answered").optional(),
});

export interface UploadRequest {
  fileName: string;
  /** Lower-case hex. */
  sha256: string;
  size: number;
  product?: ProductFieldOverrides;
  uploadId?: string;
  uploadKey?: string;
}

function fileNameProblem(fileName: string): string | undefined {
  if (fileName.length > MAX_UPLOAD_FILE_NAME_LENGTH) return `must be at most ${MAX_UPLOAD_FILE_NAME_LENGTH} characters`;
  if (/[\\/]/.test(fileName)) return "must be a file name without folders ('/' or '\\')";
  const nameIssue = blobNameProblem(fileName);
  if (nameIssue) return nameIssue;
  if (!packageExtension(fileName)) return `must end in ${PACKAGE_EXTENSIONS.join(", ")}`;
  return undefined;
}

export function parseUploadRequest(body: unknown): Parsed<UploadRequest> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  }
  const result = bodySchema.safeParse(body);
  const problems: FieldProblem[] = result.success ? [] : problemsFromZod(result.error);
  const fileName = (body as { fileName?: unknown }).fileName;
  if (typeof fileName === "string") {
    const issue = fileNameProblem(fileName);
    if (issue) problems.push({ field: "fileName", reason: issue });
  }
  const given = body as { uploadId?: unknown; uploadKey?: unknown };
  if (given.uploadId !== undefined && given.uploadKey === undefined) problems.push({ field: "uploadKey", reason: "is required with uploadId" });
  if (given.uploadKey !== undefined && given.uploadId === undefined) problems.push({ field: "uploadId", reason: "is required with uploadKey" });
  if (!result.success || problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { ...result.data, sha256: result.data.sha256.toLowerCase() } };
}
