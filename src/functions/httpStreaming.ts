/**
 * Imported first by the entry: HTTP bodies reach the handlers as streams, so a trigger reads only up
 * to its limit (requestBody.ts) instead of the host buffering up to 100 MB for it. Setup must run
 * before any function is registered (the library locks it once the app has started).
 */
import { app } from "@azure/functions";

app.setup({ enableHttpStream: true });
