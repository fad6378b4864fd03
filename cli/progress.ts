/**
 * Progress on stderr: on a TTY one live line rewritten in place; otherwise a plain line each time
 * the stage or Microsoft's step changes (CI logs stay short).
 */
import { formatDuration } from "./duration";
import type { SubmissionDocument } from "./output";

export class ProgressLine {
  private lastKey = "";
  private live = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
  ) {}

  private get tty(): boolean {
    return Boolean(this.stream.isTTY);
  }

  note(text: string): void {
    if (!this.enabled) return;
    this.clear();
    this.stream.write(`${text}\n`);
  }

  submission(doc: SubmissionDocument, nextCheckMs: number | undefined): void {
    if (!this.enabled) return;
    const step = doc.step ? ` · Microsoft step ${doc.step.index ?? "?"} of ${doc.step.count} ${doc.step.name}${doc.state ? ` (${doc.state})` : ""}` : "";
    const key = `${doc.runtimeStatus} ${doc.stage}${step}`;
    const elapsed = doc.elapsedSeconds !== null ? ` · elapsed ${formatDuration(doc.elapsedSeconds * 1000)}` : "";
    const next = nextCheckMs !== undefined ? ` · next check in ${formatDuration(nextCheckMs)}` : "";
    const line = `${doc.id}: ${doc.stage}${step}${elapsed}${next}`;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.live = true;
    } else if (key !== this.lastKey) {
      this.stream.write(`${line}\n`);
    }
    this.lastKey = key;
  }

  bytes(what: string, done: number, total: number): void {
    if (!this.enabled || !this.tty) return;
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    this.stream.write(`\r\x1b[2K${what}: ${percent}% (${done} of ${total} bytes)`);
    this.live = true;
  }

  clear(): void {
    if (this.live) this.stream.write("\r\x1b[2K");
    this.live = false;
  }
}
