import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpCloudApi } from '../../lambdas/adapters/cloud-api.js';
import { DynamoClientHealthStore } from '../../lambdas/adapters/dynamo/client-health-store.js';
import { DynamoOffboardedIndex } from '../../lambdas/adapters/dynamo/client-store.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import { clientGate, type HoldRecord } from '../../lambdas/core/health/client-health.js';
import { ClientHealthService } from '../../lambdas/core/health/client-health-service.js';
import type { ReleaseTrigger } from '../../lambdas/core/release/ports.js';
import type { TokenProvider } from '../../lambdas/core/outbound/ports.js';
import type { ClientView } from '../../lambdas/core/status/client-view.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createSweeperHandler } from '../../lambdas/sweeper/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { CloudApiStandIn } from '../../local/cloud-api-stand-in.js';
import { httpEvent, localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { accountUpdate, offboarded, reconnected } from '../support/webhooks.js';

const SECRET = 'health-secret';
let env: Awaited<ReturnType<typeof localResources>>;
let telemetry: RecordingTelemetry;
let health: DynamoClientHealthStore;
let webhook: ReturnType<typeof createWebhookHandler>;
let status: ReturnType<typeof createStatusHandler>;

beforeAll(async () => {
  env = await localResources(['inbound']);
  telemetry = new RecordingTelemetry();
  health = new DynamoClientHealthStore(env.doc, env.tableName);
  webhook = createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: { requestRelease: async () => undefined },
    telemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'v' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 30,
  });
  status = createStatusHandler({ store: env.store, telemetry, reconnectSkewMs: 300_000 });
});

const uniqueWaba = (() => {
  let n = Math.floor(Math.random() * 1e9);
  return () => `h${++n}`;
})();

const post = async (payload: unknown) => {
  const body = Buffer.from(JSON.stringify(payload));
  const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, SECRET) } }));
  expect(r.statusCode).toBe(200);
};

const view = async (wabaId: string): Promise<ClientView> => {
  const r = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId } }));
  expect(r.statusCode).toBe(200);
  return JSON.parse(r.body ?? '{}');
};

const hold = (startedAtMs: number, messageId = 'm-1'): HoldRecord => ({
  holdId: `${startedAtMs}#${messageId}`,
  startedAtMs,
  code: '133010',
  why: 'HTTP 400, code 133010: Account not registered',
  phoneNumberId: '555001',
  messageId,
});

const restriction = (wabaId: string, timeSec: number, entries: { type: string; expiration: number }[]) =>
  accountUpdate(wabaId, 'ACCOUNT_RESTRICTION', timeSec, {
    restriction_info: entries.map((e) => ({ restriction_type: e.type, expiration: e.expiration })),
  });

describe('restrictions and scheduled disables (webhook -> status route)', () => {
  it('keeps the latest ACCOUNT_RESTRICTION whatever the arrival order, and shows what is in force', async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const older = restriction('x', nowSec - 100, [{ type: 'RESTRICTED_CUSTOMER_INITIATED_MESSAGING', expiration: nowSec + 3600 }]);
    const newer = restriction('x', nowSec - 50, [
      { type: 'RESTRICTED_BIZ_INITIATED_MESSAGING', expiration: nowSec + 600 },
      { type: 'RESTRICTED_ADD_PHONE_NUMBER_ACTION', expiration: nowSec - 10 },
    ]);
    const a = uniqueWaba();
    const b = uniqueWaba();
    const forWaba = (body: ReturnType<typeof restriction>, w: string) => JSON.parse(JSON.stringify(body).replaceAll('"x"', `"${w}"`));
    await post(forWaba(older, a));
    await post(forWaba(newer, a));
    await post(forWaba(newer, b));
    await post(forWaba(older, b));
    const [va, vb] = [await view(a), await view(b)];
    expect(va.health.restrictions).toEqual(vb.health.restrictions);
    expect(va.health.restrictions).toEqual([
      { type: 'RESTRICTED_BIZ_INITIATED_MESSAGING', expiration: new Date((nowSec + 600) * 1000).toISOString(), inForce: true },
      { type: 'RESTRICTED_ADD_PHONE_NUMBER_ACTION', expiration: new Date((nowSec - 10) * 1000).toISOString(), inForce: false },
    ]);
    expect(va.status).toBe('CONNECTED');
    expect(va.timeline[0]).toMatchObject({ event: 'ACCOUNT_RESTRICTION', effect: 'informational' });
    expect(va.timeline[0]?.detail?.restrictions).toHaveLength(2);
  });

  it('shows SCHEDULE_FOR_DISABLE as a warning until a later DISABLE or REINSTATE, and counts it', async () => {
    const w = uniqueWaba();
    const t = Math.floor(Date.now() / 1000) - 600;
    const before = telemetry.get('DisableScheduled');
    await post(accountUpdate(w, 'DISABLED_UPDATE', t, { ban_info: { waba_ban_state: ['SCHEDULE_FOR_DISABLE'], waba_ban_date: '2027-01-15' } }));
    expect(telemetry.get('DisableScheduled')).toBe(before + 1);
    let v = await view(w);
    expect(v.status).toBe('CONNECTED');
    expect(v.health.warnings).toEqual([{ warning: 'scheduled-for-disable', eventTime: new Date(t * 1000).toISOString(), banDate: '2027-01-15' }]);
    // A REINSTATE stamped before the schedule changes nothing; one after it clears the warning.
    await post(accountUpdate(w, 'DISABLED_UPDATE', t - 1, { ban_info: { waba_ban_state: 'REINSTATE' } }));
    expect((await view(w)).health.warnings).toHaveLength(1);
    await post(accountUpdate(w, 'DISABLED_UPDATE', t + 1, { ban_info: { waba_ban_state: 'REINSTATE' } }));
    v = await view(w);
    expect(v.health.warnings).toEqual([]);
  });
});

describe('DynamoClientHealthStore', () => {
  it('trips a hold once when concurrent workers race for it; the status route shows it in force', async () => {
    const w = uniqueWaba();
    await post(reconnected(w, 1_700_000_000));
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => health.tripHold(w, hold(now + i, `m-${i}`), null)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const v = await view(w);
    expect(v.health.hold).toMatchObject({ state: 'in-force', code: '133010', phoneNumberId: '555001' });
  });

  it('replaces only the hold the caller saw ended', async () => {
    const w = uniqueWaba();
    const t = Date.now();
    expect(await health.tripHold(w, hold(t, 'a'), null)).toBe(true);
    // Another worker saw no hold: refused. One that saw "a" (ended) may replace it; a second with the same view may not.
    expect(await health.tripHold(w, hold(t + 1, 'b'), null)).toBe(false);
    expect(await health.tripHold(w, hold(t + 2, 'c'), `${t}#a`)).toBe(true);
    expect(await health.tripHold(w, hold(t + 3, 'd'), `${t}#a`)).toBe(false);
    expect((await env.store.getClient(w))?.health.hold?.messageId).toBe('c');
  });

  it('a newer status event from Meta ends a hold; an older one does not', async () => {
    const w = uniqueWaba();
    const t = Date.now();
    await health.tripHold(w, hold(t), null);
    await post(reconnected(w, Math.floor(t / 1000) - 60));
    expect((await view(w)).health.hold?.state).toBe('in-force');
    const ended = telemetry.get('HoldsEnded{"by":"status-event"}');
    await post(reconnected(w, Math.floor(t / 1000) + 2));
    expect((await view(w)).health.hold).toMatchObject({ state: 'ended', endedBy: 'status-event' });
    expect(telemetry.get('HoldsEnded{"by":"status-event"}')).toBe(ended + 1);
    // A later event again: the hold had already ended, nothing more is counted.
    await post(reconnected(w, Math.floor(t / 1000) + 3));
    expect(telemetry.get('HoldsEnded{"by":"status-event"}')).toBe(ended + 1);
  });

  it('gives one probe turn per interval, and keeps only the latest probe', async () => {
    const w = uniqueWaba();
    const t = Date.now();
    await health.tripHold(w, hold(t), null);
    const turns = await Promise.all([0, 1, 2, 3].map(() => health.claimProbe(w, t, t + 60_000)));
    expect(turns.filter(Boolean)).toHaveLength(1);
    expect(await health.claimProbe(w, t + 59_999, t + 120_000)).toBe(false);
    expect(await health.claimProbe(w, t + 60_000, t + 180_000)).toBe(true);
    expect(await health.claimProbe('never-seen', t, t + 1)).toBe(false); // no phantom client

    const probe = { verdict: 'can-send', detail: 'status CONNECTED', phoneNumberId: '555001', reason: 'hold-backoff' } as const;
    expect(await health.recordProbe(w, { ...probe, atMs: t + 10 })).toBe(true);
    expect(await health.recordProbe(w, { ...probe, verdict: 'cannot-send', atMs: t + 5 })).toBe(false);
    let c = await env.store.getClient(w);
    expect(c?.health).toMatchObject({ canSendAtMs: t + 10, probe: { verdict: 'can-send' }, probeAttempt: 2, nextProbeAtMs: t + 180_000 });
    // A later cannot-send probe is shown but does not bring the ended hold back.
    expect(await health.recordProbe(w, { ...probe, verdict: 'cannot-send', atMs: t + 20 })).toBe(true);
    c = await env.store.getClient(w);
    expect(c?.health.canSendAtMs).toBe(t + 10);
    expect((await view(w)).health).toMatchObject({ hold: { state: 'ended', endedBy: 'probe' }, lastProbe: { verdict: 'cannot-send' } });
  });
});

describe('ClientHealthService: probes through HttpCloudApi against the stand-in', () => {
  const policy = { intervalSeconds: 60, maxIntervalSeconds: 900, budgetShare: 0.02, budgetPerHour: 5000, probeEndsOffboarding: false };
  const setup = async (options: { probeEndsOffboarding?: boolean; tokens?: TokenProvider } = {}) => {
    const standIn = await new CloudApiStandIn().start();
    const releases: { wabaId: string; trigger: ReleaseTrigger }[] = [];
    const t = new RecordingTelemetry();
    const service = new ClientHealthService({
      store: health,
      api: new HttpCloudApi(standIn.url, 'v25.0', 2_000),
      tokens: options.tokens ?? { tokenFor: async () => 'probe-token' },
      release: { requestRelease: async (wabaId, trigger) => void releases.push({ wabaId, trigger }) },
      telemetry: t,
      policy: { ...policy, probeEndsOffboarding: options.probeEndsOffboarding ?? false },
    });
    return { standIn, releases, telemetry: t, service };
  };
  const read = async (w: string) => {
    const c = await env.store.getClient(w);
    if (!c) throw new Error('no client');
    return { gate: clientGate(c.latest, c.health, Date.now(), { reconnectSkewMs: 300_000, probeEndsOffboarding: false }), health: c.health };
  };

  it('a can-send probe ends the hold and asks for a release; the turn then waits for the interval', async () => {
    const { standIn, releases, telemetry: t, service } = await setup();
    try {
      const w = uniqueWaba();
      await post(reconnected(w, 1_700_000_000));
      await health.tripHold(w, hold(Date.now() - 1000), null);
      const outcome = await service.probe(w, '555001', 'hold-started', await read(w));
      expect(outcome).toMatchObject({ reading: { verdict: 'can-send' }, endedHold: true, released: true });
      expect(releases).toEqual([{ wabaId: w, trigger: 'probe-can-send' }]);
      expect(standIn.probes).toHaveLength(1);
      expect(standIn.probes[0]).toMatchObject({ phoneNumberId: '555001', version: 'v25.0', authorization: 'Bearer probe-token' });
      expect(standIn.probes[0]?.fields).toBe('is_on_biz_app,platform_type,status,code_verification_status,throughput,health_status');
      expect(t.get('HoldsEnded{"by":"probe"}')).toBe(1);
      expect(t.get('Probes{"verdict":"can-send"}')).toBe(1);
      const v = await view(w);
      expect(v.health).toMatchObject({ hold: { state: 'ended', endedBy: 'probe' }, lastProbe: { verdict: 'can-send', reason: 'hold-started' } });
      // At most one probe per client per interval.
      expect(await service.probe(w, '555001', 'hold-backoff', await read(w))).toBeNull();
      expect(standIn.probes).toHaveLength(1);
    } finally {
      await standIn.stop();
    }
  });

  it.each([
    ['the number is refused (100/33)', (s: CloudApiStandIn) => s.refuseNumber('555001'), 'cannot-send'],
    ['the probe gets a 500', (s: CloudApiStandIn) => {
        s.probeReply = () => ({ status: 500, body: { error: { code: 2, message: 'down' } } });
      }, 'error'],
    ['the answer is unclear', (s: CloudApiStandIn) => {
        s.probeReply = () => ({ status: 200, body: { status: 'PENDING' } });
      }, 'unclear'],
  ])('keeps the hold when %s, and backs off', async (_name, arrange, verdict) => {
    const { standIn, releases, service } = await setup();
    try {
      arrange(standIn);
      const w = uniqueWaba();
      await post(reconnected(w, 1_700_000_000));
      await health.tripHold(w, hold(Date.now() - 1000), null);
      const before = Date.now();
      const outcome = await service.probe(w, '555001', 'hold-started', await read(w));
      expect(outcome).toMatchObject({ reading: { verdict }, endedHold: false, released: false });
      expect(releases).toEqual([]);
      const after = await read(w);
      expect(after.gate.hold.state).toBe('in-force');
      expect(after.health.nextProbeAtMs).toBeGreaterThanOrEqual(before + 60_000);
      expect((await view(w)).health.lastProbe).toMatchObject({ verdict });
    } finally {
      await standIn.stop();
    }
  });

  it('a missing token is an error verdict that keeps the hold', async () => {
    const { standIn, service } = await setup({ tokens: { tokenFor: async () => Promise.reject(new Error('NoTokenError: none')) } });
    try {
      const w = uniqueWaba();
      await post(reconnected(w, 1_700_000_000));
      await health.tripHold(w, hold(Date.now() - 1000), null);
      expect(await service.probe(w, '555001', 'hold-started', await read(w))).toMatchObject({ reading: { verdict: 'error' } });
      expect(standIn.probes).toHaveLength(0);
      expect((await read(w)).gate.hold.state).toBe('in-force');
    } finally {
      await standIn.stop();
    }
  });

  it('a can-send probe does not end a webhook-set OFFBOARDED unless the stage says so', async () => {
    for (const probeEndsOffboarding of [false, true]) {
      const { standIn, releases, service } = await setup({ probeEndsOffboarding });
      try {
        const w = uniqueWaba();
        await post(offboarded(w, Math.floor(Date.now() / 1000) - 3600));
        const outcome = await service.probe(w, '555001', 'stale-offboarding', await read(w));
        expect(outcome).toMatchObject({ reading: { verdict: 'can-send' }, endedHold: false, released: probeEndsOffboarding });
        expect(releases).toHaveLength(probeEndsOffboarding ? 1 : 0);
        const c = await env.store.getClient(w);
        const gate = clientGate(c?.latest ?? {}, c?.health ?? {}, Date.now(), { reconnectSkewMs: 300_000, probeEndsOffboarding });
        expect(gate.status).toBe(probeEndsOffboarding ? 'CONNECTED' : 'OFFBOARDED');
      } finally {
        await standIn.stop();
      }
    }
  });
});

describe('sweeper: held clients and long offboardings', () => {
  it('probes a client offboarded longer than the threshold, shows the answer, and counts held clients', async () => {
    const standIn = await new CloudApiStandIn().start();
    try {
      const t = new RecordingTelemetry();
      const service = new ClientHealthService({
        store: health,
        api: new HttpCloudApi(standIn.url, 'v25.0', 2_000),
        tokens: { tokenFor: async () => 'tok' },
        telemetry: t,
        policy: { intervalSeconds: 60, maxIntervalSeconds: 900, budgetShare: 0.02, budgetPerHour: 5000, probeEndsOffboarding: false },
      });
      const stale = uniqueWaba();
      const fresh = uniqueWaba();
      const held = uniqueWaba();
      const nowSec = Math.floor(Date.now() / 1000);
      await post(offboarded(stale, nowSec - 7200));
      await post(offboarded(fresh, nowSec - 60));
      // The phone number comes from the client's messages (recorded with its counters).
      for (const w of [stale, fresh]) {
        await env.doc.send(
          new UpdateCommand({ TableName: env.tableName, Key: { pk: `CLIENT#${w}`, sk: 'STATUS' }, UpdateExpression: 'SET lastPhoneNumberId = :p', ExpressionAttributeValues: { ':p': `pn-${w}` } }),
        );
      }
      await post(reconnected(held, nowSec - 7200));
      await health.tripHold(held, { ...hold(Date.now() - 1000), phoneNumberId: `pn-${held}` }, null);
      standIn.refuseNumber(`pn-${stale}`);

      const index = new DynamoOffboardedIndex(env.doc, env.tableName);
      const POLICY = { reconnectSkewMs: 300_000, probeEndsOffboarding: false, staleOffboardingSeconds: 1800, maxProbesPerRun: 25 };
      const mine = new Set([`pn-${held}`, `pn-${fresh}`, `pn-${stale}`]);
      const probed = () => standIn.probes.map((p) => p.phoneNumberId).filter((n) => mine.has(n)).sort();

      // Now: the held client is probed on its backoff; nobody has been offboarded for 30 minutes yet.
      const first = await createSweeperHandler(index, t, POLICY, Date.now, service)();
      expect(probed()).toEqual([`pn-${held}`]);
      expect(first.held).toBeGreaterThanOrEqual(1);
      expect(t.get('ClientsHeld')).toBe(first.held);
      expect((await view(held)).health.hold).toMatchObject({ state: 'ended', endedBy: 'probe' });

      // Two hours on (the relay applied both offboardings "now"): both are stale and probed, the ended hold is not.
      const later = Date.now() + 7_200_000;
      await createSweeperHandler(index, t, POLICY, () => later, service)();
      expect(probed()).toEqual([`pn-${held}`, `pn-${fresh}`, `pn-${stale}`].sort());
      expect((await view(stale)).health.lastProbe).toMatchObject({ verdict: 'cannot-send', reason: 'stale-offboarding' });
      expect((await view(fresh)).health.lastProbe).toMatchObject({ verdict: 'can-send', reason: 'stale-offboarding' });
      // ... and not again on the next sweep: the low rate (one probe per client per 15 minutes) holds.
      await createSweeperHandler(index, t, POLICY, () => later + 300_000, service)();
      expect(probed()).toHaveLength(3);
    } finally {
      await standIn.stop();
    }
  });
});
