import { parseHdcJson } from "../../../src/hdc/losslessJson";

describe("parseHdcJson", () => {
  it("keeps ids beyond 2^53 exactly, as strings", () => {
    const parsed = parseHdcJson(
      '{"id":1152921504621465124,"productId":14631253285588838,"sharedProductId":1152921504607010608}',
    ) as Record<string, unknown>;
    expect(parsed).toEqual({ id: "1152921504621465124", productId: "14631253285588838", sharedProductId: "1152921504607010608" });
  });

  it("makes every id field a string even when small, and leaves string ids alone", () => {
    const parsed = parseHdcJson('{"id":7,"sourceProductId":0,"sourcePublisherId":12,"productId":"42"}');
    expect(parsed).toEqual({ id: "7", sourceProductId: "0", sourcePublisherId: "12", productId: "42" });
  });

  it("keeps other safe numbers as numbers and turns unsafe integers into decimal strings", () => {
    const parsed = parseHdcJson('{"maxProcessors":64,"ratio":1.5,"visibleToAccounts":[29963920,9007199254740993]}');
    expect(parsed).toEqual({ maxProcessors: 64, ratio: 1.5, visibleToAccounts: [29963920, "9007199254740993"] });
  });

  it("turns a numeric currentStep into a string and leaves enum casing as sent", () => {
    const parsed = parseHdcJson('{"commitStatus":"CommitComplete","workflowStatus":{"currentStep":3,"state":"Started"}}');
    expect(parsed).toEqual({ commitStatus: "CommitComplete", workflowStatus: { currentStep: "3", state: "Started" } });
  });

  it("rejects text that is not JSON", () => {
    expect(() => parseHdcJson("<html>Bad gateway</html>")).toThrow();
  });
});
