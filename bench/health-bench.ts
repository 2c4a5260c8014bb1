/**
 * Cloud API calls refused per offboarding episode, in a randomized offboard / reconnect run through the real consumer
 * (OutboundService with DynamoDB Local and the Cloud API stand-in over HTTP) on a virtual clock: clients go offboarded
 * and back at random, some re-offboard inside the 300 s skew window (so the webhooks read as CONNECTED), and some
 * webhooks arrive minutes late. The stand-in refuses a number's sends (133010) exactly while its client is really
 * offboarded and answers probes the same way, so every refused call is one the relay could have avoided.
 *
 * The delay queue is simulated on the same virtual clock (a parked message comes back when its delay ends): waiting
 * real minutes for SQS delays would measure nothing more.
 */
import { dynamoOutboundStores } from '../test/support/outbound-stores.js';
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HttpCloudApi, SecretTokenProvider } from '../lambdas/adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../lambdas/adapters/dynamo/client-health-store.js';
import { DynamoClientStore, DynamoOffboardedIndex, documentClient } from '../lambdas/adapters/dynamo/client-store.js';
import { ClientHealthService } from '../lambdas/core/health/client-health-service.js';
import { orderKeyOf, type StatusClass } from '../lambdas/core/status/client-status.js';
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';
import { sweepOffboarded } from '../lambdas/core/health/offboarded-sweep.js';
import { OutboundService, type OutboundRecord } from '../lambdas/core/outbound/outbound-service.js';
import type { OutboundQueues, QueueMessage } from '../lambdas/core/outbound/ports.js';
import { silentTelemetry } from '../lambdas/core/shared/telemetry.js';
import type { CloudApiStandIn } from '../local/cloud-api-stand-in.js';
import { ensureTable } from '../local/services.js';

export interface HealthBenchResult {
  readonly clients: number;
  readonly messages: number;
  /** Offboarding episodes that really happened (the truth the stand-in follows). */
  readonly episodes: number;
  /** Episodes the webhooks did not show in time: re-offboarded inside the skew window, or the webhook arrived late. */
  readonly episodesUnseen: number;
  readonly refusedCalls: number;
  readonly refusedPerEpisode: number;
  readonly maxRefusedInOneEpisode: number;
  /** The same run with holds off: what the relay did before. */
  readonly withoutHolds: { readonly refusedCalls: number; readonly refusedPerEpisode: number; readonly maxRefusedInOneEpisode: number };
  readonly probes: number;
  /** Probes per held client-hour in this run. */
  readonly probesPerHeldHour: number;
  readonly delivered: number;
  readonly deadLettered: number;
}

interface Interval {
  readonly from: number;
  readonly to: number;
}

interface Scenario {
  readonly start: number;
  readonly horizonMs: number;
  /** Per client: the intervals during which it is really offboarded. */
  readonly offboarded: readonly (readonly Interval[])[];
  /** Status webhooks: class, event time, and when the relay receives it. */
  readonly webhooks: readonly { readonly client: number; readonly cls: StatusClass; readonly event: string; readonly atMs: number; readonly deliverMs: number }[];
  /** New messages: client and enqueue time. */
  readonly messages: readonly { readonly client: number; readonly atMs: number }[];
}

/** A small deterministic generator, so a run can be repeated. */
const rng = (seed: number) => {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

const scenario = (clients: number, messages: number, horizonMs: number, seed: number): Scenario => {
  const r = rng(seed);
  const between = (a: number, b: number) => a + (b - a) * r();
  const start = Date.UTC(2026, 10, 25, 12, 0, 0);
  const offboarded: Interval[][] = [];
  const webhooks: Scenario['webhooks'][number][] = [];
  const lag = () => {
    const x = r();
    return x < 0.7 ? between(0, 5_000) : x < 0.9 ? between(30_000, 120_000) : between(300_000, 900_000);
  };
  for (let c = 0; c < clients; c++) {
    const list: Interval[] = [];
    let t = start + between(60_000, 600_000);
    while (t < start + horizonMs) {
      const off = between(60_000, 1_200_000);
      list.push({ from: t, to: t + off });
      webhooks.push({ client: c, cls: 'OFFBOARDED', event: 'ACCOUNT_OFFBOARDED', atMs: Math.floor(t / 1000) * 1000, deliverMs: t + lag() });
      // Meta sometimes stamps the reconnection a second before what it ends.
      const recAt = t + off - (r() < 0.3 ? 1_000 : 0);
      webhooks.push({ client: c, cls: 'RECONNECTED', event: 'ACCOUNT_RECONNECTED', atMs: Math.floor(recAt / 1000) * 1000, deliverMs: t + off + lag() });
      // 40% re-offboard inside the skew window: the webhooks then read as CONNECTED.
      t += off + (r() < 0.4 ? between(30_000, 240_000) : between(600_000, 1_800_000));
    }
    offboarded.push(list);
  }
  const msgs = Array.from({ length: messages }, () => ({ client: Math.floor(r() * clients), atMs: start + r() * horizonMs })).sort((a, b) => a.atMs - b.atMs);
  return { start, horizonMs, offboarded, webhooks: webhooks.sort((a, b) => a.deliverMs - b.deliverMs), messages: msgs };
};

const truthOffboarded = (s: Scenario, client: number, atMs: number): Interval | undefined =>
  s.offboarded[client]?.find((i) => i.from <= atMs && atMs < i.to);

interface RunResult {
  refused: number;
  perEpisode: Map<string, number>;
  probes: number;
  heldMs: number;
  delivered: number;
  deadLettered: number;
}

const STEP_MS = 5_000;
const POLLERS = 4;

const runOnce = async (s: Scenario, dynamo: DynamoDBClient, api: CloudApiStandIn, withHolds: boolean): Promise<RunResult> => {
  const tableName = `bench-health-${randomUUID().slice(0, 8)}`;
  await ensureTable(dynamo, tableName, { stream: false });
  const doc = documentClient(dynamo);
  const store = new DynamoClientStore(doc, tableName);
  let now = s.start;
  const clock = () => now;
  const waba = (c: number) => `hb-${tableName}-${c}`;
  const number = (c: number) => `pn-${tableName}-${c}`;
  const clientOfNumber = new Map(s.offboarded.map((_, c) => [number(c), c]));

  // The delay queue on the virtual clock.
  let pending: { record: OutboundRecord; dueMs: number }[] = [];
  let deadLettered = 0;
  const queues: OutboundQueues = {
    park: async (messages: readonly QueueMessage[]) => {
      for (const m of messages) {
        pending.push({ record: { id: randomUUID(), body: m.body, attributes: { ...(m.attributes ?? {}) }, fromDelayQueue: true }, dueMs: now + (m.delaySeconds ?? 0) * 1000 });
      }
      return new Set<string>();
    },
    deadLetter: async (messages: readonly QueueMessage[]) => {
      deadLettered += messages.length;
      return new Set<string>();
    },
  };
  const policy = {
    intervalSeconds: DEFAULTS.probeIntervalSeconds,
    maxIntervalSeconds: DEFAULTS.probeMaxIntervalSeconds,
    budgetShare: DEFAULTS.probeBudgetPercent / 100,
    budgetPerHour: DEFAULTS.managementCallsPerHour,
    probeEndsOffboarding: false,
  };
  const tokens = new SecretTokenProvider(async () => 'bench-token');
  const http = new HttpCloudApi(api.url, 'v25.0', 5_000);
  const health = withHolds
    ? new ClientHealthService({ store: new DynamoClientHealthStore(doc, tableName), api: http, tokens, telemetry: silentTelemetry, policy, now: clock })
    : undefined;
  const service = new OutboundService({
    ...dynamoOutboundStores(doc, tableName, { leaseMs: 30_000, retentionDays: 1 }),
    releases: { requestRelease: async () => undefined },
    queues,
    cloudApi: http,
    tokens,
    telemetry: silentTelemetry,
    parkDelaySchedule: DEFAULTS.parkDelaySchedule.split(',').map(Number),
    maxParkSeconds: DEFAULTS.maxParkSeconds,
    maxSendAttempts: DEFAULTS.maxSendAttempts,
    reconnectSkewMs: DEFAULTS.reconnectSkewSeconds * 1000,
    now: clock,
    ...(health ? { health } : {}),
  });

  const perEpisode = new Map<string, number>();
  let refused = 0;
  let delivered = 0;
  let probes = 0;
  api.respond = (req) => {
    const c = clientOfNumber.get(req.phoneNumberId);
    const episode = c === undefined ? undefined : truthOffboarded(s, c, now);
    if (c !== undefined && episode) {
      refused++;
      const key = `${c}@${episode.from}`;
      perEpisode.set(key, (perEpisode.get(key) ?? 0) + 1);
      return { status: 400, body: { error: { code: 133010, message: 'Account not registered', type: 'OAuthException', fbtrace_id: 'bench' } } };
    }
    delivered++;
    return { status: 200, body: { messages: [{ id: `wamid.${randomUUID()}` }] } };
  };
  api.probeReply = (id) => {
    probes++;
    const c = clientOfNumber.get(id);
    return c !== undefined && truthOffboarded(s, c, now)
      ? { status: 400, body: { error: { code: 100, error_subcode: 33, message: 'Unsupported get request' } } }
      : { status: 200, body: { status: 'CONNECTED', platform_type: 'CLOUD_API', health_status: { can_send_message: 'AVAILABLE' } } };
  };

  let w = 0;
  let m = 0;
  let heldMs = 0;
  let nextSweep = s.start + 300_000;
  const index = new DynamoOffboardedIndex(doc, tableName);
  const end = s.start + s.horizonMs + 3_600_000;
  for (; now < end; now += STEP_MS) {
    for (; w < s.webhooks.length && (s.webhooks[w]?.deliverMs ?? Infinity) <= now; w++) {
      const h = s.webhooks[w] as Scenario['webhooks'][number];
      const eventId = `${h.event}-${h.client}-${h.atMs}`;
      await store.applyStatusEvent(waba(h.client), h.cls, {
        orderKey: orderKeyOf(h.atMs, eventId),
        event: h.event,
        eventId,
        eventTimeMs: h.atMs,
        appliedAt: new Date(now).toISOString(),
      });
    }
    for (; m < s.messages.length && (s.messages[m]?.atMs ?? Infinity) <= now; m++) {
      const msg = s.messages[m] as Scenario['messages'][number];
      const body = JSON.stringify({
        messageId: `hb-${m}`,
        wabaId: waba(msg.client),
        phoneNumberId: number(msg.client),
        payload: { messaging_product: 'whatsapp', to: `1555${String(m).padStart(7, '0')}`, type: 'text', text: { body: `m ${m}` } },
      });
      pending.push({ record: { id: randomUUID(), body, attributes: {}, fromDelayQueue: false }, dueMs: now });
    }
    const due = pending.filter((p) => p.dueMs <= now);
    pending = pending.filter((p) => p.dueMs > now);
    const batches: OutboundRecord[][] = [];
    for (let i = 0; i < due.length; i += 10) batches.push(due.slice(i, i + 10).map((p) => p.record));
    // Up to four pollers at once, as the event source runs them.
    for (let i = 0; i < batches.length; i += POLLERS) {
      const results = await Promise.all(batches.slice(i, i + POLLERS).map((b) => service.processBatch(b)));
      results.forEach((r, j) => {
        const failed = new Set(r.failedIds);
        for (const rec of batches[i + j] ?? []) if (failed.has(rec.id)) pending.push({ record: rec, dueMs: now + 30_000 });
      });
    }
    if (health && now >= nextSweep) {
      nextSweep += 300_000;
      const policySweep = {
        reconnectSkewMs: DEFAULTS.reconnectSkewSeconds * 1000,
        probeEndsOffboarding: false,
        staleOffboardingSeconds: DEFAULTS.staleOffboardingSeconds,
        maxProbesPerRun: DEFAULTS.sweeperProbesPerRun,
      };
      const summary = await sweepOffboarded(index, silentTelemetry, now, policySweep, health);
      heldMs += summary.held * 300_000;
    }
    if (w >= s.webhooks.length && m >= s.messages.length && pending.length === 0 && now > s.start + s.horizonMs) break;
    // Nothing to do before the next webhook, message, wake-up or sweep: jump there (whole steps).
    const next = Math.min(
      s.webhooks[w]?.deliverMs ?? Number.POSITIVE_INFINITY,
      s.messages[m]?.atMs ?? Number.POSITIVE_INFINITY,
      ...pending.map((p) => p.dueMs),
      health ? nextSweep : Number.POSITIVE_INFINITY,
    );
    if (Number.isFinite(next) && next > now + STEP_MS) now += Math.floor((next - now) / STEP_MS) * STEP_MS - STEP_MS;
  }
  await dynamo.send(new (await import('@aws-sdk/client-dynamodb')).DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
  return { refused, perEpisode, probes, heldMs, delivered, deadLettered };
};

/** Runs the same randomized scenario with and without holds. */
export const healthBench = async (dynamo: DynamoDBClient, api: CloudApiStandIn, options: { quick: boolean }): Promise<HealthBenchResult> => {
  const clients = options.quick ? 3 : 10;
  const messages = options.quick ? 40 : 400;
  const s = scenario(clients, messages, options.quick ? 1_800_000 : 6 * 3_600_000, 12);
  const savedRespond = api.respond;
  const savedProbe = api.probeReply;
  try {
    const withHolds = await runOnce(s, dynamo, api, true);
    const without = await runOnce(s, dynamo, api, false);
    const episodes = s.offboarded.reduce((n, l) => n + l.length, 0);
    const unseen = s.offboarded.reduce(
      (n, list, c) =>
        n +
        list.filter((i) => {
          const offHook = s.webhooks.find((h) => h.client === c && h.cls === 'OFFBOARDED' && h.atMs === Math.floor(i.from / 1000) * 1000);
          const prevRec = s.webhooks.filter((h) => h.client === c && h.cls === 'RECONNECTED' && h.atMs < i.from).pop();
          const late = offHook ? offHook.deliverMs - i.from > 30_000 : true;
          const inSkew = prevRec ? i.from - prevRec.atMs <= DEFAULTS.reconnectSkewSeconds * 1000 : false;
          return late || inSkew;
        }).length,
      0,
    );
    const max = (r: RunResult) => Math.max(0, ...r.perEpisode.values());
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      clients,
      messages,
      episodes,
      episodesUnseen: unseen,
      refusedCalls: withHolds.refused,
      refusedPerEpisode: round(withHolds.refused / Math.max(1, episodes)),
      maxRefusedInOneEpisode: max(withHolds),
      withoutHolds: { refusedCalls: without.refused, refusedPerEpisode: round(without.refused / Math.max(1, episodes)), maxRefusedInOneEpisode: max(without) },
      probes: withHolds.probes,
      probesPerHeldHour: withHolds.heldMs > 0 ? round(withHolds.probes / (withHolds.heldMs / 3_600_000)) : 0,
      delivered: withHolds.delivered,
      deadLettered: withHolds.deadLettered,
    };
  } finally {
    api.respond = savedRespond;
    api.probeReply = savedProbe;
  }
};
