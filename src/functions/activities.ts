/** Registers the activities of the contract; each handler gets the shared dependencies with this invocation's logger. */
import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { authenticate } from "../activities/authenticate";
import { checkResumeClaims } from "../activities/checkResumeClaims";
import { preflightPackage } from "../activities/preflightPackage";
import { commitSubmission } from "../activities/commitSubmission";
import type { ActivityContract, ActivityName } from "../activities/contract";
import { copyPackage } from "../activities/copyPackage";
import { createProduct } from "../activities/createProduct";
import { createSubmission } from "../activities/createSubmission";
import { type ActivityDeps, getActivityDeps } from "../activities/deps";
import { downloadSignedPackage } from "../activities/downloadSignedPackage";
import { verifySignedPackage } from "../activities/verifySignedPackage";
import { copyErrorReport } from "../activities/copyErrorReport";
import { getSubmissionStatus } from "../activities/getSubmissionStatus";
import { writeResultManifest } from "../activities/writeResultManifest";
import { prepareShippingLabel } from "../activities/prepareShippingLabel";
import { createShippingLabel } from "../activities/createShippingLabel";
import { getShippingLabelStatus } from "../activities/getShippingLabelStatus";
import { updateShippingLabel } from "../activities/updateShippingLabel";
import { cancelShippingLabel } from "../activities/cancelShippingLabel";
import { toSafeActivityError } from "../activities/errors";
import { uploadPreprodPackage } from "../activities/uploadPreprodPackage";
import { getPreprodStatus } from "../activities/getPreprodStatus";
import { downloadPreprodSigned } from "../activities/downloadPreprodSigned";

type Implementations = {
  [N in ActivityName]: (input: ActivityContract[N]["input"], deps: ActivityDeps) => Promise<ActivityContract[N]["output"]>;
};

/** Typed against the contract: a missing activity or a changed signature is a compile error. */
export const activityImplementations: Implementations = {
  authenticate,
  checkResumeClaims,
  preflightPackage,
  createProduct,
  createSubmission,
  copyPackage,
  commitSubmission,
  getSubmissionStatus,
  downloadSignedPackage,
  verifySignedPackage,
  writeResultManifest,
  copyErrorReport,
  prepareShippingLabel,
  createShippingLabel,
  getShippingLabelStatus,
  updateShippingLabel,
  cancelShippingLabel,
  uploadPreprodPackage,
  getPreprodStatus,
  downloadPreprodSigned,
};

function register<N extends ActivityName>(name: N): void {
  const implementation = activityImplementations[name];
  df.app.activity(name, {
    handler: async (input: unknown, context: InvocationContext) => {
      try {
        // Inside the try: building dependencies (config, Key Vault, credential) can fail too.
        const deps = await getActivityDeps((message) => context.log(message));
        return await implementation(input as ActivityContract[N]["input"], deps);
      } catch (error) {
        throw toSafeActivityError(error);
      }
    },
  });
}

for (const name of Object.keys(activityImplementations) as ActivityName[]) register(name);
