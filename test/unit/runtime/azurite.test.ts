/**
 * Azurite as the tests start it: a port that another process holds is reported at once (EADDRINUSE),
 * not after the 30 s wait for the port, which is what lets startAzurite retry on fresh ports when a
 * parallel test worker took the one freePort() offered.
 */
import * as net from "node:net";
import { freePort, startAzurite } from "../../../local/azurite";

test("a taken blob port fails fast with EADDRINUSE; free ports start normally", async () => {
  const holder = net.createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
  try {
    const started = Date.now();
    await expect(startAzurite({ inMemory: true, blobPort: port })).rejects.toThrow(/EADDRINUSE/);
    expect(Date.now() - started).toBeLessThan(20_000);
  } finally {
    holder.close();
  }
  const azurite = await startAzurite({ inMemory: true });
  try {
    expect((await fetch(`${azurite.blobEndpoint}?comp=list`)).status).toBeLessThan(500);
  } finally {
    await azurite.stop();
  }
}, 60_000);
