/**
 * The Hardware Dev Center emulator's state file: products and submissions (64-bit ids, workflow
 * progress, upload refs) come back after a restart, id counters continue (never repeat, also after
 * a reset), the clock does not go back, and a line cut short by a crash is skipped.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EmulatorClock } from "../../../local/emulators/clock";
import { HdcStore, type ProductRecord } from "../../../local/emulators/hdcStore";

const stateFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hdc-state-")), "emulators", "hdc-state.jsonl");

function newProduct(store: HdcStore, clock: EmulatorClock, name: string): ProductRecord {
  const product: ProductRecord = {
    ...store.nextProductIds(),
    fields: { productName: name, testHarness: "hlk" },
    createdDateTime: clock.iso(),
    updatedDateTime: clock.iso(),
    isCommitted: false,
    submissions: [],
  };
  store.products.set(product.id.toString(), product);
  store.save(product);
  return product;
}

it("restores products, submissions and counters; ids never repeat; the clock does not go back", () => {
  const file = stateFile();
  const clock = new EmulatorClock();
  const store = new HdcStore({ file, clock });
  const a = newProduct(store, clock, "a");
  a.submissions.push({ id: store.nextSubmissionId(), productId: a.id, name: "s", type: "initial", createdDateTime: clock.iso(), uploadBlob: "blob-guid" });
  clock.advanceSeconds(3600);
  a.submissions[0].commit = { committedAtMs: clock.nowMs(), outcome: "complete", workflow: { stepSeconds: 30, commitSeconds: 5 } };
  a.submissions[0].upload = { length: 10, md5: "m", sha256: "s" };
  a.isCommitted = true;
  store.save(a);
  newProduct(store, clock, "b");
  expect((fs.statSync(file).mode & 0o777)).toBe(0o600);

  const laterClock = new EmulatorClock();
  const restored = new HdcStore({ file, clock: laterClock });
  expect([...restored.products.keys()]).toEqual([...store.products.keys()]);
  const back = restored.product(a.id.toString())!;
  expect(back.id).toBe(a.id);
  expect(typeof back.id).toBe("bigint");
  expect(back.submissions[0]).toEqual(a.submissions[0]);
  expect(back.isCommitted).toBe(true);
  expect(laterClock.nowMs()).toBeGreaterThanOrEqual(clock.nowMs() - 1000);

  const next = restored.nextProductIds().id;
  expect([...store.products.values()].map((p) => p.id)).not.toContain(next);
  expect(restored.nextSubmissionId()).toBe(a.submissions[0].id + 1n);

  restored.clear();
  const afterReset = new HdcStore({ file, clock: new EmulatorClock() });
  expect(afterReset.products.size).toBe(0);
  expect(afterReset.nextProductIds().id).toBeGreaterThan(next);
});

it("skips a last line cut short by a crash and refuses damage elsewhere, naming the file", () => {
  const file = stateFile();
  const clock = new EmulatorClock();
  const store = new HdcStore({ file, clock });
  newProduct(store, clock, "a");
  fs.appendFileSync(file, '{"product":{"id":"1');
  expect(new HdcStore({ file, clock: new EmulatorClock() }).products.size).toBe(1);
  fs.writeFileSync(file, `garbage\n${fs.readFileSync(file, "utf8")}`);
  expect(() => new HdcStore({ file, clock: new EmulatorClock() })).toThrow(new RegExp(`hdc-state\\.jsonl line 1 is not JSON`));
});
