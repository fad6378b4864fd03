import { backoffDelay, parseRetryAfter } from "../../../src/hdc/policies";

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-11-20T10:00:00Z");

  it("reads delta seconds", () => {
    expect(parseRetryAfter("1", now)).toBe(1000);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
    expect(parseRetryAfter("0.5", now)).toBe(500);
  });

  it("reads an HTTP-date, never giving a negative wait", () => {
    expect(parseRetryAfter("Thu, 20 Nov 2025 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Thu, 20 Nov 2025 09:00:00 GMT", now)).toBe(0);
  });

  it("ignores a missing or unreadable header", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("backoffDelay", () => {
  it("grows exponentially within [half, full] of base·2^attempt", () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const ceiling = 100 * 2 ** attempt;
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, { retryDelayMs: 100, maxRetryDelayMs: 60_000 });
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("never exceeds the cap", () => {
    for (let i = 0; i < 50; i++) expect(backoffDelay(30, { retryDelayMs: 1000, maxRetryDelayMs: 5000 })).toBeLessThanOrEqual(5000);
  });
});
