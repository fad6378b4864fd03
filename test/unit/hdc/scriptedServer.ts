/**
 * A scripted Hardware Dev Center stand-in on https://127.0.0.1 for the client tests (a bearer
 * token only travels over TLS; the certificate comes from the local CA that `npm test` trusts
 * through NODE_EXTRA_CA_CERTS): each request takes the next reply from `script` ("hang" never
 * answers, so the client's timeout must fire) and is recorded.
 */
import type http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { ensureLocalCa, issueServerCertificate } from "../../../local/tls";
import { TLS_DIR } from "../../support/emulatorFixture";

let certificate: { certPem: string; keyPem: string } | undefined;

export type Reply =
  | {
      status: number;
      headers?: Record<string, string>;
      /** Raw text, so tests can send integers a JSON.stringify could not. */
      body?: string;
    }
  | "hang";

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export class ScriptedServer {
  /** Cleared in place by reset(), so tests may hold on to the arrays. */
  readonly script: Reply[] = [];
  readonly requests: Recorded[] = [];
  private readonly server = https.createServer(tlsOptions(), (req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      this.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, at: Date.now() });
      const reply = this.script.shift() ?? { status: 599, body: "unscripted request" };
      if (reply === "hang") return;
      res.writeHead(reply.status, { "Content-Type": "application/json", ...reply.headers });
      res.end(reply.body ?? "");
    });
  });

  /** Listens on a free port; returns the API base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2.0/my/`;
  }

  reset(): void {
    this.script.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** One server certificate per test process (issuing one takes a moment). */
function tlsOptions(): https.ServerOptions {
  certificate ??= issueServerCertificate(ensureLocalCa(TLS_DIR));
  return { cert: certificate.certPem, key: certificate.keyPem };
}

/** Hands out token-1, token-2, … and counts how often it was asked. */
export class CountingCredential implements TokenCredential {
  calls = 0;
  async getToken(): Promise<AccessToken> {
    this.calls++;
    return { token: `token-${this.calls}`, expiresOnTimestamp: Date.now() + 3600_000 };
  }
}
