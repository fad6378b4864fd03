/** Keeps the last orchestrator trigger payload per instance: the history exactly as the orchestrator received it. */
export class PayloadRecorder {
  private readonly byInstance = new Map<string, unknown>();

  record(payload: unknown): void {
    const id = (payload as { instanceId?: unknown } | null)?.instanceId;
    if (typeof id === "string") this.byInstance.set(id, JSON.parse(JSON.stringify(payload)));
  }

  last(instanceId: string): unknown {
    return this.byInstance.get(instanceId);
  }
}
