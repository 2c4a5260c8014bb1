/**
 * What a release knows of its client: the facts the gate needs (status item, phone owners), read at the start and
 * again at least every `statusCheckMs` by a watcher, so a status, hold, restriction or owner change reaches the next
 * gate decision; and the sweep of a client that may not send at all.
 */
import { type ClientGate, clientGate } from '../health/client-health.js';
import { parseEnvelope, type OutboundEnvelope, recipientOf } from '../outbound/envelope.js';
import type { AfterSendPolicy, ParkState } from '../outbound/outbound-decision.js';
import { type BatchContext, type BatchContextReader, type CustomerKey, customerIdentity } from '../outbound/ports.js';
import { type GateDecision, gate } from '../outbound/send-policy.js';
import type { ParkedStore, ReleaseProgress, ReleaseRequest } from './ports.js';
import { claimAndDeadLetter, type CopyDeps, copyState } from './release-copy.js';
import { flush, halt, iso, type RunState } from './release-end.js';
import { EventBuffer } from '../outcomes/event-buffer.js';
import type { SendStepDeps } from '../outbound/send-step.js';
import type { Telemetry } from '../shared/telemetry.js';

export interface FactsDeps {
  readonly statuses: BatchContextReader;
  readonly parked: ParkedStore;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly statusCheckMs: number;
  readonly pageSize: number;
  readonly reconnectSkewMs: number;
  readonly probeEndsOffboarding: boolean;
  readonly policy: AfterSendPolicy;
}

/** Why a client may not send at all now (offboarded, or held), or null. */
export const clientWide = (client: ClientGate): string | null =>
  client.status === 'OFFBOARDED' ? 'client-offboarded' : client.hold.state === 'in-force' ? 'client-held' : null;

export const clientOf = (d: FactsDeps, context: BatchContext, wabaId: string): ClientGate =>
  clientGate(context.latest.get(wabaId) ?? {}, context.health.get(wabaId) ?? {}, d.now(), {
    reconnectSkewMs: d.reconnectSkewMs,
    probeEndsOffboarding: d.probeEndsOffboarding,
  });

/** The gate for one message on the facts as last read (no I/O: the watcher keeps them fresh). */
export const decide = (d: FactsDeps, run: RunState, envelope: OutboundEnvelope, state: ParkState): GateDecision => {
  const customer = { wabaId: run.request.wabaId, phoneNumberId: envelope.phoneNumberId, customer: recipientOf(envelope.payload) };
  const facts = {
    client: clientOf(d, run.facts.context, run.request.wabaId),
    phoneOwner: run.facts.context.phoneOwners.get(envelope.phoneNumberId),
    humanRepliedAtMs: envelope.automated === true ? run.facts.context.humanReplies.get(customerIdentity(customer)) : undefined,
  };
  return gate(facts, envelope, state, d.now(), d.policy);
};

/**
 * What a page of copies needs read before its messages are decided: the owners of phone numbers and, for automated
 * messages, the human holds of customers, that this run has not met yet. True when something new was added.
 */
export const meet = (run: RunState, copies: readonly { readonly wabaId: string; readonly phoneNumberId: string; readonly recipient: string; readonly body: string }[]): boolean => {
  let added = false;
  for (const c of copies) {
    if (!run.facts.phones.has(c.phoneNumberId)) {
      run.facts.phones.add(c.phoneNumberId);
      added = true;
    }
    const customer: CustomerKey = { wabaId: c.wabaId, phoneNumberId: c.phoneNumberId, customer: c.recipient };
    const id = customerIdentity(customer);
    if (!run.facts.customers.has(id) && isAutomated(c.body)) {
      run.facts.customers.set(id, customer);
      added = true;
    }
  }
  return added;
};

const isAutomated = (body: string): boolean => {
  try {
    return (JSON.parse(body) as { automated?: unknown }).automated === true;
  } catch {
    return false;
  }
};

/** The client's facts (and the owners of every phone number met so far), read again now; one read in flight at most. */
export const refresh = async (d: FactsDeps, run: RunState): Promise<void> => {
  const f = run.facts;
  f.pending ??= d.statuses
    .readBatch([run.request.wabaId], [...f.phones], [], [...f.customers.values()])
    .then((context) => {
      f.context = context;
      f.atMs = d.now();
    })
    .finally(() => {
      f.pending = null;
    });
  return f.pending;
};

/** Re-reads the client's facts every `statusCheckMs` while the run lasts: a client-wide stop halts it at once. */
export const watchFacts = (d: FactsDeps, run: RunState): { stop(): void } => {
  let active = true;
  void (async () => {
    while (active) {
      await d.sleep(Math.max(d.statusCheckMs, 25));
      if (!active) break;
      await refresh(d, run).catch(() => undefined);
      const why = clientWide(clientOf(d, run.facts.context, run.request.wabaId));
      if (why) halt(run, 'status', why);
    }
  })();
  return {
    stop: () => {
      active = false;
    },
  };
};

export const newRun = (
  request: ReleaseRequest,
  releaseId: string,
  progress: ReleaseProgress | null,
  context: BatchContext,
  nowMs: number,
  deadlineMs: number,
  send: SendStepDeps,
  telemetry: Telemetry,
): RunState => {
  // The run's relay events go out with each flush of its copies (one SNS request per ten).
  const events = send.events ? new EventBuffer(send.events, telemetry) : null;
  const p = progress ?? { releaseId, trigger: request.trigger, state: 'running', startedAt: iso(nowMs), updatedAt: iso(nowMs), total: 0, sent: 0, deadLettered: 0, alreadySent: 0, left: 0 };
  return {
    request,
    releaseId,
    drainSince: 0,
    progress: p,
    stop: null,
    blocked: new Map(),
    restricted: new Map(),
    phonePausedUntil: new Map(),
    toRemove: [],
    lastBeat: nowMs,
    deadlineMs,
    humanHeld: false,
    restrictionHeld: false,
    facts: { atMs: nowMs, context, phones: new Set(), customers: new Map(), pending: null },
    events,
    send: events ? { ...send, events } : send,
  };
};

/**
 * The client may not send: only what the gate dead-letters whatever the client's state goes (claimed first, so a
 * copy acting at the same time is safe); everything else stays parked. Returns how many were dead-lettered.
 */
export const sweep = async (d: FactsDeps, copies: CopyDeps, run: RunState, why: string): Promise<number> => {
  const before = run.progress.deadLettered;
  let cursor: string | undefined;
  do {
    const page = await d.parked.list(run.request.wabaId, d.pageSize, cursor);
    cursor = page.cursor ?? undefined;
    const readable = page.items.flatMap((i) => (i.ok ? [i.copy] : []));
    if (meet(run, readable)) await refresh(d, run);
    for (const copy of readable) {
      const parsed = parseEnvelope(copy.body);
      if (!parsed.ok) continue; // a release dead-letters it once the client may send
      const state = copyState(copy);
      const decision = decide(d, run, parsed.envelope, state);
      if (decision.action === 'dead-letter') await claimAndDeadLetter(copies, run, copy, parsed.envelope, state, decision);
    }
  } while (cursor && d.now() < run.deadlineMs);
  await flush(copies.o, run);
  const dead = run.progress.deadLettered - before;
  if (dead > 0) copies.o.telemetry.info('client may not send; dead-lettered what may never go', { wabaId: run.request.wabaId, why, deadLettered: dead });
  return dead;
};
