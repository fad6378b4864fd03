/**
 * Issue 21: the Event Grid trigger trusts storage, not the event body. On the local runtime, through
 * the Azure-shaped webhook with the eventgrid_extension key: crafted BlobCreated events for an
 * already-signed blob with a forged data.eTag or with none, and for blobs that do not exist (one under
 * an arbitrary prefix with a name that is no package), are each answered 202 (so Event Grid does not
 * retry them) and start nothing: no product or submission at the Hardware Dev Center emulator
 * (counted through its control API), no manifest, no listed record, no instance under the ids the old
 * code derived. The genuine event redelivered still finds its one instance.
 */
import { APP_CONTAINERS } from "../../local/stack";
import { EmulatorControlClient } from "../../local/emulators";
import { instanceIdForPackage } from "../../src/domain/instanceId";
import { dropPackage, eventGridKeyHeaders, startTestStack, waitForEnd, type TestStack } from "../support/stack";

jest.setTimeout(120_000);

describe("Event Grid events are checked against storage (issue 21)", () => {
  let stack: TestStack;
  let control: EmulatorControlClient;

  beforeAll(async () => {
    stack = await startTestStack();
    control = new EmulatorControlClient(stack.emulators.controlUrl);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const subjectOf = (blobName: string) => `/blobServices/default/containers/${APP_CONTAINERS.drops}/blobs/${blobName}`;

  function blobCreated(id: string, blobName: string, data: Record<string, unknown>) {
    return {
      id,
      topic: "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
      subject: subjectOf(blobName),
      eventType: "Microsoft.Storage.BlobCreated",
      eventTime: new Date().toISOString(),
      data: { api: "PutBlob", contentType: "application/octet-stream", contentLength: 4096, blobType: "BlockBlob", ...data },
      dataVersion: "",
      metadataVersion: "1",
    };
  }

  async function deliver(events: unknown[]): Promise<number> {
    const response = await fetch(`${stack.baseUrl}/runtime/webhooks/eventgrid?functionName=packageDropped`, {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification", ...eventGridKeyHeaders(stack) },
      body: JSON.stringify(events),
    });
    await response.text();
    return response.status;
  }

  async function hdcCounts(): Promise<{ products: number; submissions: number; createCalls: number }> {
    const [state, requests] = await Promise.all([control.state(), control.requests()]);
    return {
      products: state.products.length,
      submissions: state.products.reduce((sum, p) => sum + p.submissions.length, 0),
      createCalls: requests.entries.filter((e) => e.kind === "createProduct" || e.kind === "createSubmission").length,
    };
  }

  async function signedBlobs(): Promise<string[]> {
    const names: string[] = [];
    for await (const blob of stack.blobService.getContainerClient(APP_CONTAINERS.signed).listBlobsFlat()) names.push(blob.name);
    return names.sort();
  }

  it("forged, missing and absent eTags, and missing blobs, start nothing and write nothing", async () => {
    const blobName = await dropPackage(stack, "eg-trust");
    const id = await stack.submissions.findByBlob(blobName, 20_000);
    expect((await waitForEnd(stack, id)).stage).toBe("succeeded");
    const realEtag = (await stack.blobService.getContainerClient(APP_CONTAINERS.drops).getBlobClient(blobName).getProperties()).etag!;
    expect(id).toBe(instanceIdForPackage(APP_CONTAINERS.drops, blobName, realEtag));

    const hdcBefore = await hdcCounts();
    const signedBefore = await signedBlobs();
    const listedBefore = (await stack.submissions.list()).map((view) => view.id).sort();

    const forged = "0x8DD00000F0E6ED1";
    const crafted = [
      // The signed blob, a forged version: today a new instance, product and submission.
      blobCreated("crafted-forged", blobName, { eTag: forged }),
      // The signed blob, no eTag: today keyed by the event id, and it signed the same bytes again.
      blobCreated("crafted-no-etag", blobName, {}),
      // Blobs that are not there: a package name, and a non-package under any prefix (today a manifest and a record).
      blobCreated("crafted-missing", "ghost/eg-trust-missing-1.0.0.hlkx", { eTag: realEtag }),
      blobCreated("crafted-prefix", "any/prefix/of/choice/readme.txt", { eTag: forged }),
    ];
    for (const event of crafted) expect({ event: event.id, status: await deliver([event]) }).toEqual({ event: event.id, status: 202 });
    // The genuine version redelivered under a new event id: the same one instance, nothing new.
    expect(await deliver([blobCreated("genuine-again", blobName, { eTag: realEtag })])).toBe(202);

    // Anything an event had started would reach the emulator within moments (virtual clock): give it time.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(await hdcCounts()).toEqual(hdcBefore);
    expect(await signedBlobs()).toEqual(signedBefore);
    expect((await stack.submissions.list()).map((view) => view.id).sort()).toEqual(listedBefore);
    // No instance under any id the event could have chosen (the forged version, the event id, the missing blobs).
    for (const instanceId of [
      instanceIdForPackage(APP_CONTAINERS.drops, blobName, forged),
      instanceIdForPackage(APP_CONTAINERS.drops, blobName, "event:crafted-no-etag"),
      instanceIdForPackage(APP_CONTAINERS.drops, "ghost/eg-trust-missing-1.0.0.hlkx", realEtag),
      instanceIdForPackage(APP_CONTAINERS.drops, "any/prefix/of/choice/readme.txt", forged),
    ]) {
      expect({ instanceId, status: (await stack.submissions.get(instanceId)).httpStatus }).toEqual({ instanceId, status: 404 });
    }
    const after = await stack.submissions.get(id);
    expect(after.runtimeStatus).toBe("Completed");
  });
});
