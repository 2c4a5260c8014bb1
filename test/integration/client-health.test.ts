import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoClientHealthStore } from '../../lambdas/adapters/dynamo-client-health.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import type { HoldRecord } from '../../lambdas/core/client-health.js';
import type { ClientView } from '../../lambdas/core/client-view.js';
import { signBody } from '../../lambdas/core/signature.js';
import { createStatusHandler } from '../../lambdas/handlers/status.js';
import { createWebhookHandler } from '../../lambdas/handlers/webhook.js';
import { httpEvent, localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { accountUpdate, reconnected } from '../support/webhooks.js';

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
    const before = telemetry.get('DisableScheduled');
    await post(accountUpdate(w, 'DISABLED_UPDATE', 1_800_000_000, { ban_info: { waba_ban_state: ['SCHEDULE_FOR_DISABLE'], waba_ban_date: '2027-01-15' } }));
    expect(telemetry.get('DisableScheduled')).toBe(before + 1);
    let v = await view(w);
    expect(v.status).toBe('CONNECTED');
    expect(v.health.warnings).toEqual([{ warning: 'scheduled-for-disable', eventTime: new Date(1_800_000_000_000).toISOString(), banDate: '2027-01-15' }]);
    // A REINSTATE stamped before the schedule changes nothing; one after it clears the warning.
    await post(accountUpdate(w, 'DISABLED_UPDATE', 1_799_999_999, { ban_info: { waba_ban_state: 'REINSTATE' } }));
    expect((await view(w)).health.warnings).toHaveLength(1);
    await post(accountUpdate(w, 'DISABLED_UPDATE', 1_800_000_001, { ban_info: { waba_ban_state: 'REINSTATE' } }));
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
    await post(reconnected(w, Math.floor(t / 1000) + 2));
    expect((await view(w)).health.hold).toMatchObject({ state: 'ended', endedBy: 'status-event' });
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
