import { redactSecrets } from "../../../src/domain/redact";

describe("redactSecrets", () => {
  it("masks a SAS signature up to the next parameter", () => {
    const url = "https://x.blob.core.windows.net/c/b?sv=2018-03-28&sr=b&sig=abc%2Bdef%3D&se=2025-11-21T14:31:15Z&sp=rwl";
    const result = redactSecrets(url);
    expect(result).toBe("https://x.blob.core.windows.net/c/b?sv=2018-03-28&sr=b&sig=REDACTED&se=2025-11-21T14:31:15Z&sp=rwl");
  });

  it("masks a signature at the end of the text, in any casing, and inside JSON strings", () => {
    expect(redactSecrets("see ...?SIG=Zm9v")).toBe("see ...?sig=REDACTED");
    expect(redactSecrets('{"url":"https://h/p?sp=r&sig=s3cr3t"}')).toBe('{"url":"https://h/p?sp=r&sig=REDACTED"}');
  });

  it("masks a URL-encoded SAS nested in another URL", () => {
    const result = redactSecrets("https://a/b?next=https%3A%2F%2Fh%2Fp%3Fsp%3Dr%26sig%3Dabc%252Bd%26se%3D1");
    expect(result).not.toContain("abc");
    expect(result).toContain("sig%3DREDACTED%26se%3D1");
  });

  it("masks bearer tokens", () => {
    expect(redactSecrets("Authorization: Bearer eyJhbGciOi.JIUzI1N-iJ9.sig_x+/== trailing")).toBe(
      "Authorization: Bearer REDACTED trailing",
    );
  });

  it("masks tokens and client credentials in JSON and form bodies", () => {
    expect(redactSecrets('{"token_type":"Bearer","access_token":"abc.def","expires_in":3599}')).toBe(
      '{"token_type":"Bearer","access_token":"REDACTED","expires_in":3599}',
    );
    const form = "grant_type=client_credentials&client_id=1&client_secret=p%40ss&client_assertion=eyJ.x.y&resource=r";
    expect(redactSecrets(form)).toBe(
      "grant_type=client_credentials&client_id=1&client_secret=REDACTED&client_assertion=REDACTED&resource=r",
    );
  });

  it("masks the password of a URL with credentials, keeping the user and the address", () => {
    expect(redactSecrets("connect ECONNREFUSED http://durabletask_extension:k3y_-abc@127.0.0.1:7071/durabletask/instances/x")).toBe(
      "connect ECONNREFUSED http://durabletask_extension:REDACTED@127.0.0.1:7071/durabletask/instances/x",
    );
    expect(redactSecrets("at http://127.0.0.1:7071/api/x and 10:30 @home")).toBe("at http://127.0.0.1:7071/api/x and 10:30 @home");
  });

  it("leaves ordinary text alone", () => {
    const text = "HDC POST /hardware/products failed: 400 invalidInput: signature design is wrong";
    expect(redactSecrets(text)).toBe(text);
  });
});
