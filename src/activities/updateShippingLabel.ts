/**
 * PATCH .../shippingLabels/{id} (shipping-labels.md section 6): add or remove hardware ids and
 * CHIDs (each entry carries action add|remove), set audiences. Called by the PATCH
 * /api/submissions/{id}/labels/{labelId} trigger directly (see functions/labels.ts for why).
 */
import { updateShippingLabelTargeting } from "../hdc/shippingLabels";
import type { UpdateShippingLabelInput, UpdateShippingLabelOutput } from "./contract";
import type { ActivityDeps } from "./deps";
import { rethrowHdcFailure } from "./hdcFailures";

export async function updateShippingLabel(input: UpdateShippingLabelInput, deps: ActivityDeps): Promise<UpdateShippingLabelOutput> {
  try {
    await updateShippingLabelTargeting(deps.hdc, input.productId, input.submissionId, input.labelId, input.targeting);
  } catch (error) {
    rethrowHdcFailure(error, `Updating shipping label ${input.labelId}`);
  }
  deps.log(`Updated the targeting of shipping label ${input.labelId}`);
  return {
    hardwareIdChanges: input.targeting.hardwareIds?.length ?? 0,
    chidChanges: input.targeting.chids?.length ?? 0,
    audiencesSet: input.targeting.restrictedToAudiences !== undefined,
  };
}
