/**
 * The cross-site guard for cookie-signed-in callers (src/identity/crossSite.ts) on real
 * @azure/functions HttpRequest objects: state-changing methods need the page's header or a bearer
 * token; reads never do; a form-looking request (any content type, any other header) is refused.
 */
import { HttpRequest } from "@azure/functions";
import { crossSiteRefusal, PAGE_REQUEST_HEADER, PAGE_REQUEST_VALUE } from "../../../src/identity/crossSite";

const URL_ = "http://127.0.0.1:7071/api/submissions/drv-1/cancel";
const request = (method: string, headers: Record<string, string> = {}) => new HttpRequest({ method, url: URL_, headers });
const SESSION = { cookie: "AppServiceAuthSession=abc" };

describe("crossSiteRefusal", () => {
  it("refuses a state-changing call that only the session cookie authenticates (what a cross-site form sends)", () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "post"]) {
      const extras: Record<string, string>[] = [{}, { "content-type": "application/x-www-form-urlencoded" }, { "content-type": "text/plain", origin: "https://evil.example" }, { [PAGE_REQUEST_HEADER]: "XMLHttpRequest" }, { authorization: "Basic YTpi" }, { authorization: "Bearer" }];
      for (const extra of extras) {
        const refusal = crossSiteRefusal(request(method, { ...SESSION, ...extra }));
        expect({ method, extra, status: refusal?.status }).toEqual({ method, extra, status: 403 });
        expect((refusal?.jsonBody as { error: string }).error).toContain(`${PAGE_REQUEST_HEADER}: ${PAGE_REQUEST_VALUE}`);
      }
    }
  });

  it("lets through the page's own calls, bearer-token calls and every read", () => {
    expect(crossSiteRefusal(request("POST", { ...SESSION, [PAGE_REQUEST_HEADER]: PAGE_REQUEST_VALUE }))).toBeUndefined();
    expect(crossSiteRefusal(request("PATCH", { ...SESSION, "x-requested-with": PAGE_REQUEST_VALUE }))).toBeUndefined();
    expect(crossSiteRefusal(request("POST", { authorization: "Bearer eyJ.a.b" }))).toBeUndefined();
    expect(crossSiteRefusal(request("DELETE", { authorization: "bearer x" }))).toBeUndefined();
    for (const method of ["GET", "HEAD", "OPTIONS"]) expect(crossSiteRefusal(request(method, SESSION))).toBeUndefined();
  });
});
