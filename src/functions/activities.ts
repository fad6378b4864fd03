/** Registers the eight activities; each handler gets the shared dependencies with this invocation's logger. */
import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { authenticate } from "../activities/authenticate";
import { commitSubmission } from "../activities/commitSubmission";
import type { ActivityContract, ActivityName } from "../activities/contract";
import { copyPackage } from "../activities/copyPackage";
import { createProduct } from "../activities/createProduct";
import { createSubmission } from "../activities/createSubmission";
import { type ActivityDeps, getActivityDeps } from "../activities/deps";
import { downloadSignedPackage } from "../activities/downloadSignedPackage";
import { getSubmissionStatus } from "../activities/getSubmissionStatus";
import { writeResultManifest } from "../activities/writeResultManifest";
import { redactSecrets } from "../shared/redact";

type Implementations = {
  [N in ActivityName]: (input: ActivityContract[N]["input"], deps: ActivityDeps) => Promise<ActivityContract[N]["output"]>;
};

/** Typed against the contract: a missing activity or a changed signature is a compile error. */
export const activityImplementations: Implementations = {
  authenticate,
  createProduct,
  createSubmission,
  copyPackage,
  commitSubmission,
  getSubmissionStatus,
  downloadSignedPackage,
  writeResultManifest,
};

/**
 * The host writes a failed activity's message and stack into history; activities already redact,
 * this is the last line of defence. The terminal marker is plain text and survives.
 */
function redactedError(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const safe = new Error(redactSecrets(original.message));
  safe.name = original.name;
  safe.stack = original.stack ? redactSecrets(original.stack) : undefined;
  return safe;
}

function register<N extends ActivityName>(name: N): void {
  const implementation = activityImplementations[name];
  df.app.activity(name, {
    handler: async (input: unknown, context: InvocationContext) => {
      const deps = await getActivityDeps((message) => context.log(message));
      try {
        return await implementation(input as ActivityContract[N]["input"], deps);
      } catch (error) {
        throw redactedError(error);
      }
    },
  });
}

for (const name of Object.keys(activityImplementations) as ActivityName[]) register(name);
