/**
 * DurableEngine: the part of the Durable Task extension a JS app relies on, for the local runtime.
 * Runs the app's real orchestrator handlers episode by episode, persists every step in Azurite Tables,
 * runs activities, fires timers (real or virtual clock) and resumes everything after a crash.
 */
import { randomUUID } from "node:crypto";
import { Clock, RealClock, VirtualClock } from "./clock";
import { runEpisode } from "./episode";
import { activityFailure } from "./failures";
import * as ev from "./historyEvents";
import { freshState, InstanceState, rebuildState } from "./instanceState";
import { Alarm, BoundedRunner, TimerBook, TimerEntry } from "./scheduler";
import { assertValidInstanceId, DurableStore, episodeRowKey, InstanceRecord, newInboxKey, ParentLink, PayloadTooLargeError } from "./store";
import { historyView } from "./statusView";
import { EpisodePlan, deliverEvents, newExecutionGuid, planEpisode } from "./transitions";
import {
  ActivityWork, DurableArgumentError, EngineOptions, HistoryEvent, InboxItem, InstanceExistsError, InstanceStatus, isTerminal,
  StatusFilter, StatusPage, SubOrchestrationWork, WorkItem,
} from "./types";

export { InstanceExistsError } from "./types";
export type { ActivityInvoker, EngineOptions, InstanceStatus, OrchestratorInvoker, StatusFilter, StatusPage } from "./types";

interface ActivityJob {
  instanceId: string;
  executionId: number;
  work: ActivityWork;
}

const EPISODE_CONCURRENCY = 8;
const STOP_WAIT_MS = 10000;

export class DurableEngine {
  private readonly store: DurableStore;
  private clock: Clock = new RealClock();
  private readonly instances = new Map<string, InstanceState>();
  private readonly runnable = new Set<string>();
  private readonly timers = new TimerBook();
  private readonly alarm = new Alarm();
  private readonly activities: BoundedRunner<ActivityJob>;
  private runningEpisodes = 0;
  /** Storage writes and deliveries not tied to an episode or activity (they can still make work runnable). */
  private pendingOps = 0;
  private jumping = false;
  private stopped = true;
  /** Set by simulateCrash: nothing this engine does afterwards may reach storage. */
  private crashed = false;
  private readonly log: (line: string) => void;

  constructor(private readonly options: EngineOptions) {
    this.store = new DurableStore(options.tableConnectionString, options.hubName);
    this.activities = new BoundedRunner(options.activityConcurrency ?? 4, (job) => this.runActivity(job), () => this.pump());
    this.log = options.log ?? (() => undefined);
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    await this.store.ensureTable();
    if (this.options.virtualClock) {
      const persisted = await this.store.readVirtualTime();
      const clock = new VirtualClock((persisted ?? new Date()).getTime());
      if (!persisted) await this.store.writeVirtualTime(clock.now());
      this.clock = clock;
    }
    for (const record of await this.store.loadInstanceRecords()) {
      if (isTerminal(record.runtimeStatus)) {
        this.instances.set(record.instanceId, freshState(record));
        continue;
      }
      const loaded = await this.store.loadInstance(record.instanceId);
      if (!loaded) continue;
      const state = rebuildState(loaded);
      this.instances.set(record.instanceId, state);
      if (loaded.staleRowKeys.length > 0) this.background(this.store.deleteRows(record.instanceId, loaded.staleRowKeys));
    }
    this.stopped = false;
    for (const state of this.instances.values()) {
      if (isTerminal(state.record.runtimeStatus)) continue;
      for (const work of state.work.values()) this.dispatch(state, work);
      if (state.inbox.length > 0) this.runnable.add(state.record.instanceId);
    }
    this.log(`durable engine started: ${this.instances.size} instances, clock ${this.clock.now().toISOString()}`);
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.alarm.clear();
    this.activities.pause();
    const deadline = Date.now() + STOP_WAIT_MS;
    while ((this.runningEpisodes > 0 || this.activities.active > 0 || this.pendingOps > 0) && Date.now() < deadline) {
      await sleep(10);
    }
  }

  /** Test hook: behave like a killed process. Timers die, queued work is dropped, in-flight work never commits. */
  simulateCrash(): void {
    this.crashed = true;
    this.stopped = true;
    this.alarm.clear();
    this.activities.pause();
    this.activities.clear();
  }

  now(): Date {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- client operations

  async startNew(name: string, input: unknown, instanceId: string = randomUUID().replace(/-/g, "")): Promise<string> {
    // StartNewAsync checks that the function exists and is an orchestrator before creating anything.
    if (this.options.isOrchestrator && !this.options.isOrchestrator(name)) {
      throw new DurableArgumentError(`The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`);
    }
    await this.createInstance(name, input, instanceId);
    return instanceId;
  }

  async getStatus(
    instanceId: string,
    options: { showHistory?: boolean; showHistoryOutput?: boolean; showInput?: boolean } = {},
  ): Promise<InstanceStatus | undefined> {
    const state = this.instances.get(instanceId);
    if (!state) return undefined;
    const showInput = options.showInput !== false;
    const status = toStatus(state.record, showInput);
    // Like the extension: no history for an instance that has not started yet.
    if (options.showHistory && state.record.runtimeStatus !== "Pending") {
      status.history = historyView(await this.getHistory(instanceId), { showHistoryOutput: options.showHistoryOutput === true, showInput });
    }
    return status;
  }

  /** The current execution's history as the orchestrator receives it (DTFx events, numeric EventType). */
  async getHistory(instanceId: string): Promise<HistoryEvent[]> {
    const state = this.instances.get(instanceId);
    if (!state) return [];
    if (state.history.length > 0 || !isTerminal(state.record.runtimeStatus)) return state.history.map((e) => ({ ...e }));
    return this.store.loadHistory(instanceId, state.record.executionId);
  }

  async list(filter: StatusFilter = {}): Promise<InstanceStatus[]> {
    return [...this.instances.values()]
      .map((s) => s.record)
      .filter((r) => matches(r, filter))
      .map((r) => toStatus(r, true));
  }

  /**
   * One page of a status query. Like the Azure Storage provider's Instances table query, results come in
   * instance-id order; the continuation token names the last id returned.
   */
  async listPage(filter: StatusFilter, page: { pageSize: number; continuationToken?: string; showInput?: boolean }): Promise<StatusPage> {
    const after = page.continuationToken ? decodeContinuation(page.continuationToken) : undefined;
    const matching = [...this.instances.values()]
      .map((s) => s.record)
      .filter((r) => matches(r, filter) && (after === undefined || r.instanceId > after))
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
    const records = matching.slice(0, Math.max(1, page.pageSize));
    const more = matching.length > records.length;
    return {
      statuses: records.map((r) => toStatus(r, page.showInput !== false)),
      ...(more ? { continuationToken: encodeContinuation(records[records.length - 1].instanceId) } : {}),
    };
  }

  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<boolean> {
    const state = this.instances.get(instanceId);
    if (!state) return false;
    if (isTerminal(state.record.runtimeStatus)) {
      this.log(`event '${eventName}' for ${state.record.runtimeStatus} instance ${instanceId} dropped`);
      return true;
    }
    await this.deliver(instanceId, { rowKey: newInboxKey(), events: [ev.eventRaised(this.now(), eventName, data)] });
    return true;
  }

  async terminate(instanceId: string, reason: string | null): Promise<boolean> {
    const state = this.instances.get(instanceId);
    if (!state || isTerminal(state.record.runtimeStatus)) return false;
    await this.deliver(instanceId, { rowKey: newInboxKey(), events: [], terminateReason: reason });
    return true;
  }

  /**
   * Deletes an instance and all its data. Like the Azure Storage provider's purge by id, this does not look at
   * the runtime status: a running instance is deleted too and its outstanding work is dropped.
   */
  async purge(instanceId: string): Promise<boolean> {
    const state = this.instances.get(instanceId);
    if (!state) return false;
    this.assertWritable();
    this.instances.delete(instanceId); // from here on deliveries, timers and activity results for it are dropped
    this.runnable.delete(instanceId);
    this.timers.removeInstance(instanceId);
    while (state.episodeRunning) await sleep(5); // let an in-flight episode commit before its rows are deleted
    await this.store.purgeInstance(instanceId);
    return true;
  }

  /**
   * Purge by filter (createdTimeFrom is required by the HTTP API). Like the Azure Storage provider, only the
   * terminal statuses of the given list count; with none of them (or no list) every status matches.
   */
  async purgeBy(filter: StatusFilter): Promise<number> {
    const terminal = (filter.runtimeStatus ?? []).filter((s) => isTerminal(s as InstanceStatus["runtimeStatus"]));
    let purged = 0;
    for (const status of await this.list({ ...filter, runtimeStatus: terminal })) if (await this.purge(status.instanceId)) purged++;
    return purged;
  }

  /** Resolves once nothing is runnable (with the virtual clock: no timers left to fire either). */
  async waitForIdle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quietChecks = 0;
    while (quietChecks < 3) {
      if (Date.now() > deadline) throw new Error(`durable engine not idle after ${timeoutMs} ms: ${this.describeBusy()}`);
      quietChecks = this.isIdle() ? quietChecks + 1 : 0;
      await sleep(quietChecks > 0 ? 1 : 5);
    }
  }

  // ---------------------------------------------------------------- instance creation and delivery

  private async createInstance(name: string, input: unknown, instanceId: string, parent?: ParentLink): Promise<void> {
    assertValidInstanceId(instanceId);
    this.assertWritable();
    const existing = this.instances.get(instanceId);
    if (existing && !isTerminal(existing.record.runtimeStatus)) throw new InstanceExistsError(instanceId, existing.record.runtimeStatus);
    const now = this.now();
    const record: InstanceRecord = {
      instanceId, name, runtimeStatus: "Pending", input: input ?? null, output: null, customStatus: null,
      createdTime: now.toISOString(), lastUpdatedTime: now.toISOString(),
      executionId: 0, executionGuid: newExecutionGuid(), episodeCount: 0, nextEventId: 0, parent,
    };
    this.store.assertStorable(record);
    const startItem: InboxItem = {
      rowKey: newInboxKey(),
      events: [ev.executionStarted(now, name, JSON.stringify(input ?? null), parent?.instanceId)],
      executionId: 0,
    };
    // Claim the id in memory first so a concurrent startNew with the same id sees it.
    const state = freshState(record);
    this.instances.set(instanceId, state);
    try {
      if (existing) await this.store.purgeInstance(instanceId); // a terminal instance is overwritten
      await this.store.createInstance(record, startItem);
    } catch (error) {
      if (this.instances.get(instanceId) === state) this.instances.delete(instanceId);
      throw error;
    }
    state.inbox.push(startItem);
    this.markRunnable(instanceId);
  }

  /** Persists a message for an instance, then queues it; completions of finished work are dropped. */
  private async deliver(instanceId: string, item: InboxItem): Promise<void> {
    this.assertWritable();
    const state = this.instances.get(instanceId);
    if (!state) return;
    this.pendingOps++;
    try {
      await this.withRetries(() => this.store.appendInbox(instanceId, item));
      if (this.crashed) return;
      state.inbox.push(item);
      this.markRunnable(instanceId);
    } finally {
      this.pendingOps--;
      this.pump();
    }
  }

  // ---------------------------------------------------------------- the loop

  private markRunnable(instanceId: string): void {
    this.runnable.add(instanceId);
    this.pump();
  }

  private pump(): void {
    if (this.stopped) return;
    for (const instanceId of [...this.runnable]) {
      if (this.runningEpisodes >= EPISODE_CONCURRENCY) break;
      const state = this.instances.get(instanceId);
      this.runnable.delete(instanceId);
      if (!state || state.episodeRunning || state.inbox.length === 0) continue;
      state.episodeRunning = true;
      this.runningEpisodes++;
      this.processNextMessage(state)
        .catch((error: unknown) => this.log(`episode of ${instanceId} failed to commit, will retry: ${errorText(error)}`))
        .finally(() => {
          state.episodeRunning = false;
          this.runningEpisodes--;
          if (state.inbox.length > 0 && this.instances.get(instanceId) === state) {
            this.runnable.add(instanceId);
          }
          this.pump();
        });
    }
    this.activities.drain();
    this.scheduleTimers();
  }

  private isIdle(): boolean {
    const busy = this.runnable.size > 0 || this.runningEpisodes > 0 || this.activities.active > 0 ||
      this.activities.queued > 0 || this.pendingOps > 0 || this.jumping;
    return !busy && !(this.clock.virtual && this.timers.size > 0);
  }

  private describeBusy(): string {
    return `runnable=${this.runnable.size} episodes=${this.runningEpisodes} activities=${this.activities.active}+${this.activities.queued} ` +
      `ops=${this.pendingOps} timers=${this.timers.size}`;
  }

  private scheduleTimers(): void {
    if (this.stopped || this.timers.size === 0) return;
    if (!(this.clock instanceof VirtualClock)) {
      const first = this.timers.earliest() as TimerEntry;
      this.alarm.set(first.fireAt, () => this.fireDueTimers());
      return;
    }
    const nothingElse = this.runnable.size === 0 && this.runningEpisodes === 0 && this.activities.active === 0 &&
      this.activities.queued === 0 && this.pendingOps === 0;
    if (!nothingElse || this.jumping) return;
    this.jumping = true;
    // Let callers that are mid-await (e.g. raiseEvent right after startNew) get in before time skips.
    setImmediate(() => {
      this.jumpToEarliestTimer()
        .catch((error: unknown) => this.log(`virtual clock jump failed: ${errorText(error)}`))
        .finally(() => {
          this.jumping = false;
          this.pump();
        });
    });
  }

  private async jumpToEarliestTimer(): Promise<void> {
    const clock = this.clock as VirtualClock;
    const stillIdle = this.runnable.size === 0 && this.runningEpisodes === 0 && this.activities.active === 0 && this.pendingOps === 0;
    const first = this.timers.earliest();
    if (!first || !stillIdle || this.stopped) return;
    if (clock.advanceTo(new Date(first.fireAt))) {
      await this.store.writeVirtualTime(clock.now());
      await this.options.onClockAdvance?.(clock.now());
    }
    if (this.stopped) return;
    await this.fireTimer(first);
  }

  private fireDueTimers(): void {
    for (const entry of this.timers.due(Date.now())) this.background(this.fireTimer(entry));
    this.pump();
  }

  private async fireTimer(entry: TimerEntry): Promise<void> {
    this.timers.remove(entry.instanceId, entry.executionId, entry.id);
    const state = this.instances.get(entry.instanceId);
    if (!state || state.record.executionId !== entry.executionId || !state.work.has(entry.id)) return;
    const fireAt = new Date(entry.fireAt).toISOString();
    await this.deliver(entry.instanceId, {
      rowKey: newInboxKey(), events: [ev.timerFired(this.now(), entry.id, fireAt)], executionId: entry.executionId,
    });
  }

  // ---------------------------------------------------------------- episodes

  private async processNextMessage(state: InstanceState): Promise<void> {
    const item = state.inbox[0];
    const rec = state.record;
    const stale = item.executionId !== undefined && item.executionId !== rec.executionId;
    if (isTerminal(rec.runtimeStatus) || stale) {
      this.assertWritable();
      await this.store.deleteRows(rec.instanceId, [item.rowKey]);
      state.inbox.shift();
      return;
    }
    const now = this.now();
    const plan = item.terminateReason !== undefined
      ? planTermination(state, item.terminateReason, now)
      : await this.planRun(state, item, now);
    plan.warnings.forEach((w) => this.log(`${rec.instanceId}: ${w}`));
    await this.commit(state, item, plan, now);
  }

  private async planRun(state: InstanceState, item: InboxItem, now: Date): Promise<EpisodePlan> {
    const delivery = deliverEvents(state, item, now);
    const outcome = await runEpisode(this.options.invokeOrchestrator, state.record.name, {
      instanceId: state.record.instanceId,
      parentInstanceId: state.record.parent?.instanceId,
      input: state.record.input,
      playedHistory: state.history,
      newEvents: delivery.newEvents,
    });
    return planEpisode(state, delivery, outcome, now);
  }

  private async commit(state: InstanceState, item: InboxItem, plan: EpisodePlan, now: Date): Promise<void> {
    this.assertWritable();
    const rowKey = episodeRowKey(state.record.executionId, state.record.episodeCount);
    if (!plan.restart) plan.record.episodeCount = state.record.episodeCount + 1;
    try {
      await this.store.commitEpisode({
        record: plan.record,
        episode: plan.restart ? undefined : {
          rowKey,
          doc: { events: plan.events, newWork: plan.newWork, newActions: plan.newActions, canceledTimers: plan.canceledTimers },
        },
        consumedInboxKey: item.rowKey,
        newInbox: plan.restart,
      });
    } catch (error) {
      if (!(error instanceof PayloadTooLargeError)) throw error;
      // Fail the instance clearly rather than lose the episode silently.
      const failed = planFailure(state, error.message, now);
      await this.store.commitEpisode({ record: failed.record, consumedInboxKey: item.rowKey });
      plan = failed;
    }
    if (this.crashed) return;
    this.apply(state, plan);
  }

  /** After a successful commit: memory follows storage. */
  private apply(state: InstanceState, plan: EpisodePlan): void {
    const previousExecution = state.record.executionId;
    const previousEpisodes = state.record.episodeCount;
    state.inbox.shift();
    state.record = plan.record;
    if (plan.restart) {
      this.dropWork(state, previousExecution);
      state.history = [];
      state.recorded = [];
      state.inbox.unshift(plan.restart);
      const staleRows = Array.from({ length: previousEpisodes }, (_, i) => episodeRowKey(previousExecution, i));
      this.background(this.store.deleteRows(state.record.instanceId, staleRows));
      return;
    }
    state.history.push(...plan.events);
    state.recorded.push(...plan.newActions);
    plan.completedIds.forEach((id) => state.work.delete(id));
    for (const id of plan.canceledTimers) {
      state.work.delete(id);
      this.timers.remove(state.record.instanceId, previousExecution, id);
    }
    if (isTerminal(plan.record.runtimeStatus)) {
      this.dropWork(state, previousExecution);
      state.history = []; // read back from the table if someone asks for it
      state.recorded = [];
      this.log(`${state.record.instanceId} ${plan.record.runtimeStatus}`);
      this.background(this.notifyParent(plan.record));
      return;
    }
    for (const work of plan.newWork) {
      state.work.set(work.id, work);
      this.dispatch(state, work);
    }
  }

  private dropWork(state: InstanceState, executionId: number): void {
    state.work.clear();
    this.timers.removeInstance(state.record.instanceId);
    void executionId; // running activities of that execution are dropped on delivery (see runActivity)
  }

  private dispatch(state: InstanceState, work: WorkItem): void {
    const instanceId = state.record.instanceId;
    const executionId = state.record.executionId;
    if (work.kind === "activity") this.activities.push({ instanceId, executionId, work });
    else if (work.kind === "timer") this.timers.add({ instanceId, executionId, id: work.id, fireAt: Date.parse(work.fireAt) });
    else this.background(this.startChild(state.record, work));
  }

  // ---------------------------------------------------------------- activities and sub-orchestrations

  private async runActivity(job: ActivityJob): Promise<void> {
    const { work } = job;
    let result: HistoryEvent;
    try {
      const output = await this.options.invokeActivity(work.name, work.input);
      result = ev.taskCompleted(this.now(), work.id, output);
    } catch (error) {
      const failure = activityFailure(work.name, error);
      result = ev.taskFailed(this.now(), work.id, failure.reason, failure.details);
    }
    if (this.crashed) return;
    const state = this.instances.get(job.instanceId);
    if (!state || state.record.executionId !== job.executionId || !state.work.has(work.id)) return;
    const item: InboxItem = { rowKey: newInboxKey(), events: [result], executionId: job.executionId };
    try {
      await this.deliver(job.instanceId, item);
    } catch (error) {
      if (!(error instanceof PayloadTooLargeError)) throw error;
      const reason = `Activity function '${work.name}' failed: its result is too large for the local runtime. ${error.message}`;
      await this.deliver(job.instanceId, { ...item, events: [ev.taskFailed(this.now(), work.id, reason, "")] });
    }
  }

  /** Creates the child (idempotent across restarts) or, if it already finished for this parent task, reports it. */
  private async startChild(parent: InstanceRecord, work: SubOrchestrationWork): Promise<void> {
    const link: ParentLink = { instanceId: parent.instanceId, executionId: parent.executionId, taskId: work.id };
    const child = this.instances.get(work.childId);
    const ours = child?.record.parent && sameLink(child.record.parent, link);
    if (child && ours) {
      if (isTerminal(child.record.runtimeStatus)) await this.notifyParent(child.record);
      return;
    }
    try {
      await this.createInstance(work.name, work.input, work.childId, link);
    } catch (error) {
      const reason = `Could not start sub-orchestration '${work.name}' (${work.childId}): ${errorText(error)}`;
      await this.deliver(parent.instanceId, {
        rowKey: newInboxKey(), events: [ev.subOrchestrationFailed(this.now(), work.id, reason, "")], executionId: parent.executionId,
      });
    }
  }

  private async notifyParent(child: InstanceRecord): Promise<void> {
    const link = child.parent;
    if (!link) return;
    const parent = this.instances.get(link.instanceId);
    if (!parent || parent.record.executionId !== link.executionId || !parent.work.has(link.taskId)) return;
    const now = this.now();
    // DTFx hands the parent the child's ExecutionCompleted result (the failure reason) and the failure details.
    const event = child.runtimeStatus === "Completed"
      ? ev.subOrchestrationCompleted(now, link.taskId, child.output)
      : child.runtimeStatus === "Failed"
        ? ev.subOrchestrationFailed(now, link.taskId, String(child.output), child.failureDetails ?? "")
        : ev.subOrchestrationFailed(now, link.taskId,
          `Sub-orchestration '${child.name}' (${child.instanceId}) ${child.runtimeStatus.toLowerCase()}: ${String(child.output)}`, "");
    await this.deliver(link.instanceId, { rowKey: newInboxKey(), events: [event], executionId: link.executionId });
  }

  // ---------------------------------------------------------------- helpers

  private background(work: Promise<unknown>): void {
    this.pendingOps++;
    work
      .catch((error: unknown) => this.log(`background step failed: ${errorText(error)}`))
      .finally(() => {
        this.pendingOps--;
        this.pump();
      });
  }

  private assertWritable(): void {
    if (this.crashed) throw new Error("durable engine has crashed (simulateCrash)");
  }

  private async withRetries<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (attempt >= 3 || error instanceof PayloadTooLargeError || this.crashed) throw error;
        await sleep(100 * attempt);
      }
    }
  }
}

function terminatedCompletion(now: Date, reason: string | null): HistoryEvent {
  return { ...ev.executionCompleted(now, "Terminated", null), Result: reason ?? undefined };
}

function planTermination(state: InstanceState, reason: string | null, now: Date): EpisodePlan {
  return {
    record: { ...state.record, runtimeStatus: "Terminated", output: reason, lastUpdatedTime: now.toISOString() },
    events: [
      ev.orchestratorStarted(now), ev.executionTerminated(now, reason),
      // DTFx completes the execution with the reason as its result.
      terminatedCompletion(now, reason), ev.orchestratorCompleted(now),
    ],
    newWork: [], newActions: [], canceledTimers: [], completedIds: [], warnings: [],
  };
}

function planFailure(state: InstanceState, message: string, now: Date): EpisodePlan {
  return {
    record: {
      ...state.record, runtimeStatus: "Failed", output: message, customStatus: null, failureDetails: message, lastUpdatedTime: now.toISOString(),
    },
    events: [], newWork: [], newActions: [], canceledTimers: [], completedIds: [], warnings: [],
  };
}

function sameLink(a: ParentLink, b: ParentLink): boolean {
  return a.instanceId === b.instanceId && a.executionId === b.executionId && a.taskId === b.taskId;
}

function toStatus(record: InstanceRecord, showInput: boolean): InstanceStatus {
  return {
    name: record.name,
    instanceId: record.instanceId,
    runtimeStatus: record.runtimeStatus,
    input: showInput ? record.input ?? null : null,
    output: record.output ?? null,
    customStatus: record.customStatus ?? null,
    createdTime: record.createdTime,
    lastUpdatedTime: record.lastUpdatedTime,
  };
}

function matches(record: InstanceRecord, filter: StatusFilter): boolean {
  if (filter.instanceIdPrefix && !record.instanceId.startsWith(filter.instanceIdPrefix)) return false;
  if (filter.runtimeStatus && filter.runtimeStatus.length > 0 && !filter.runtimeStatus.includes(record.runtimeStatus)) return false;
  const created = Date.parse(record.createdTime);
  if (filter.createdTimeFrom && created < filter.createdTimeFrom.getTime()) return false;
  if (filter.createdTimeTo && created > filter.createdTimeTo.getTime()) return false;
  return true;
}

function encodeContinuation(lastInstanceId: string): string {
  return Buffer.from(JSON.stringify({ after: lastInstanceId }), "utf8").toString("base64");
}

function decodeContinuation(token: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as { after?: unknown };
    return typeof parsed.after === "string" ? parsed.after : undefined;
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
