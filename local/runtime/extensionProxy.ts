/**
 * The Durable routes of the front when Microsoft's extension is the engine (`--engine real`): the webhooks
 * (/runtime/webhooks/durabletask/...) and the RPC routes (/durabletask/...) are passed through to the extension's
 * own HTTP API on its loopback address, which serves both route families in the Functions host. The caller checks
 * the system key first, and the body is bounded as on our engine's routes (the host's limit, chunked bodies too).
 */
import * as http from "node:http";
import { WEBHOOK_BODY_LIMITS } from "../../src/domain/requestLimits";
import { RPC_PATH, WEBHOOK_PATH } from "../durable/clientBinding";
import { readBodyAtMost, sendTooLarge } from "../http/bodyLimits";
import type { RawHandler } from "./httpFront";

/** The extension's path for a front path, or undefined when the path is not a Durable route. */
export function extensionPathFor(frontPath: string): string | undefined {
  if (frontPath === WEBHOOK_PATH || frontPath.startsWith(`${WEBHOOK_PATH}/`)) return RPC_PATH + frontPath.slice(WEBHOOK_PATH.length + 1);
  if (frontPath.startsWith(RPC_PATH)) return frontPath;
  return undefined;
}

export function createExtensionProxy(extensionBaseUrl: string): RawHandler {
  const target = new URL(extensionBaseUrl);
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const extensionPath = extensionPathFor(url.pathname);
    if (extensionPath === undefined) return false;
    const read = await readBodyAtMost(req, WEBHOOK_BODY_LIMITS.durable.bytes);
    if (!read.ok) {
      sendTooLarge(res, WEBHOOK_BODY_LIMITS.durable.bytes);
      return true;
    }
    // The key is the front's business; the extension checks none and must not see it.
    url.searchParams.delete("code");
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: target.host, "content-length": read.body.length };
    delete headers.authorization;
    delete headers["x-functions-key"];
    delete headers["transfer-encoding"];
    return new Promise<boolean>((resolve) => {
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: extensionPath + url.search, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("end", () => resolve(true));
        answer.on("error", () => resolve(true));
      });
      upstream.on("error", (error) => {
        if (!res.headersSent) {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end(`The Durable Task extension did not answer: ${error.message}\n`);
        } else res.destroy();
        resolve(true);
      });
      upstream.end(read.body);
    });
  };
}
