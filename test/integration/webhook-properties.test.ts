import { RecordingReleases } from '../support/release.js';
/**
 * Property-based tests of the webhook side against DynamoDB Local and fauxqs. `npm test` runs a bounded number of
 * cases; `FC_NUM_RUNS=500 npx vitest run test/integration/webhook-properties.test.ts` runs more.
 */
import { fc, test } from '@fast-check/vitest';
import { beforeAll, describe, expect } from 'vitest';
import { DynamoClientStore } from '../../lambdas/adapters/dynamo/client-store.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import type { ClientView } from '../../lambdas/core/status/client-view.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createStatusHandler } from '../../lambdas/status/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { httpEvent, localResources, takeAll } from '../support/aws.js';
import { propertyRuns } from '../support/property.js';
import { RecordingTelemetry } from '../support/telemetry.js';

const SECRET = 'property-secret';
const SKEW_S = 300;
/** Documented: an event time more than 300 s after receipt does not decide status. */
const MARGIN_S = 300;

let env: Awaited<ReturnType<typeof localResources>>;
let handlers: ReturnType<typeof createWebhookHandler>[];
let status: ReturnType<typeof createStatusHandler>;
let runId = 0;

beforeAll(async () => {
  env = await localResources(['inbound']);
  // Three handlers with their own store instances: three Lambda containers delivering concurrently.
  handlers = [0, 1, 2].map(() =>
    createWebhookHandler({
      store: new DynamoClientStore(env.doc, env.tableName),
      inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
      releases: new RecordingReleases(),
      telemetry: new RecordingTelemetry(),
      secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'v' }),
      reconnectSkewMs: SKEW_S * 1000,
      timelineRetentionDays: 1,
    }),
  );
  status = createStatusHandler({ store: env.store, telemetry: new RecordingTelemetry(), reconnectSkewMs: SKEW_S * 1000 });
});

const postText = (text: string, handler = handlers[0], signature: string | undefined = signBody(text, SECRET)) =>
  (handler as (typeof handlers)[number])(
    httpEvent({ method: 'POST', path: '/webhook', body: text, headers: signature === undefined ? {} : { 'x-hub-signature-256': signature } }),
  );
const view = async (wabaId: string) => {
  const r = await status(httpEvent({ method: 'GET', path: `/clients/${wabaId}`, pathParameters: { wabaId }, query: { timeline: '100' } }));
  return { statusCode: r.statusCode, body: JSON.parse(r.body ?? '{}') as ClientView };
};

// ---------------------------------------------------------------------------------------------------------------
// The reference model: the status rules of docs/client-status.md, written here from the text, not from the relay's code.

type Cls = 'CONNECTED' | 'RECONNECTED' | 'OFFBOARDED' | 'REMOVED' | 'DELETED' | 'DISABLED' | null;

const EVENTS: readonly { readonly event: string; readonly extra: Record<string, unknown>; readonly cls: Cls; readonly partner?: boolean }[] = [
  { event: 'ACCOUNT_OFFBOARDED', extra: {}, cls: 'OFFBOARDED' },
  { event: 'ACCOUNT_RECONNECTED', extra: {}, cls: 'RECONNECTED' },
  { event: 'PARTNER_ADDED', extra: {}, cls: 'CONNECTED', partner: true },
  { event: 'PARTNER_APP_INSTALLED', extra: {}, cls: 'CONNECTED', partner: true },
  { event: 'PARTNER_REMOVED', extra: { disconnection_info: { reason: 'CHANGE_NUMBER', initiated_by: 'USER' } }, cls: 'REMOVED', partner: true },
  { event: 'PARTNER_APP_UNINSTALLED', extra: {}, cls: 'REMOVED', partner: true },
  { event: 'ACCOUNT_DELETED', extra: {}, cls: 'DELETED' },
  { event: 'DISABLED_UPDATE', extra: { ban_info: { waba_ban_state: 'DISABLE' } }, cls: 'DISABLED' },
  { event: 'DISABLED_UPDATE', extra: { ban_info: { waba_ban_state: 'REINSTATE' } }, cls: 'CONNECTED' },
  { event: 'DISABLED_UPDATE', extra: { ban_info: { waba_ban_state: 'SCHEDULE_FOR_DISABLE' } }, cls: null },
  { event: 'ACCOUNT_RESTRICTION', extra: { restriction_info: [] }, cls: null },
];

const STATUS_OF: Record<Exclude<Cls, null>, string> = {
  CONNECTED: 'CONNECTED',
  RECONNECTED: 'CONNECTED',
  OFFBOARDED: 'OFFBOARDED',
  REMOVED: 'REMOVED',
  DELETED: 'DELETED',
  DISABLED: 'DISABLED',
};
/** Ties: DELETED > REMOVED > DISABLED > OFFBOARDED > CONNECTED (RECONNECTED above CONNECTED). */
const RESTRICTIVENESS = ['CONNECTED', 'RECONNECTED', 'OFFBOARDED', 'DISABLED', 'REMOVED', 'DELETED'];

/** Unix seconds, or ms above 10^12; an integer between 2010 and receipt + margin; otherwise it never counts. */
const modelTimeMs = (raw: number | string, receivedMs: number): number | null => {
  const n = typeof raw === 'number' ? raw : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) return null;
  const ms = n > 1e12 ? n : n * 1000;
  if (ms < Date.UTC(2010, 0, 1) || ms > 8.64e15 || ms > receivedMs + MARGIN_S * 1000) return null;
  return ms;
};

interface ModelEvent {
  readonly kind: number;
  readonly time: number | string;
}

const modelStatus = (events: readonly ModelEvent[], receivedMs: number): string => {
  // Keep the latest time of each class; duplicates and arrival order do not matter for a maximum.
  const latest = new Map<Exclude<Cls, null>, number>();
  for (const e of events) {
    const cls = (EVENTS[e.kind] as (typeof EVENTS)[number]).cls;
    const ms = modelTimeMs(e.time, receivedMs);
    if (cls === null || ms === null) continue;
    latest.set(cls, Math.max(latest.get(cls) ?? -1, ms));
  }
  const off = latest.get('OFFBOARDED');
  const rec = latest.get('RECONNECTED');
  if (off !== undefined && rec !== undefined) {
    // An offboarding and a reconnection within the skew read as "offboarded, then reconnected".
    if (Math.abs(off - rec) <= SKEW_S * 1000 || rec > off) latest.delete('OFFBOARDED');
    else latest.delete('RECONNECTED');
  }
  let best: [Exclude<Cls, null>, number] | null = null;
  for (const [cls, ms] of latest) {
    if (!best || ms > best[1] || (ms === best[1] && RESTRICTIVENESS.indexOf(cls) > RESTRICTIVENESS.indexOf(best[0]))) best = [cls, ms];
  }
  return best ? STATUS_OF[best[0]] : 'CONNECTED';
};

const bodyOf = (waba: string, e: ModelEvent, salt: number): string => {
  const spec = EVENTS[e.kind] as (typeof EVENTS)[number];
  const value = { event: spec.event, ...spec.extra, ...(spec.partner ? { waba_info: { waba_id: waba } } : {}), ...(salt ? { note: salt } : {}) };
  return JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: spec.partner ? 'partner-biz' : waba, time: e.time, changes: [{ field: 'account_update', value }] }] });
};

describe('status model: the real store against the reference model', () => {
  const base = Math.floor(Date.now() / 1000) - 3600;
  const time = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 1200 }).map((d) => base + d) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 1200 }).map((d) => String(base + d)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 1200 }).map((d) => (base + d) * 1000 + 123) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<number | string>(4102444800, (base + 3600) * 1_000_000, 1e16, 1e200, 1000, -5, 'soon', '1e9', base + 3600 + MARGIN_S - 30, base + 3600 + MARGIN_S + 600),
    },
  );
  const event = fc.record({ kind: fc.integer({ min: 0, max: EVENTS.length - 1 }), time });
  const deliveries = fc
    .array(event, { minLength: 1, maxLength: 8 })
    .chain((events) =>
      fc.record({
        events: fc.constant(events),
        // Each delivery: which event (repeats are redeliveries), a salt (0 keeps the same body), in waves sent concurrently.
        plan: fc.array(fc.record({ index: fc.nat(events.length - 1), salt: fc.constantFrom(0, 0, 0, 1), wave: fc.nat(3), via: fc.nat(2) }), {
          minLength: events.length,
          maxLength: events.length * 2,
        }),
      }),
    );

  test.prop([deliveries], { numRuns: propertyRuns(20) })(
    'any sequence of account_update deliveries ends in the status the model gives',
    async ({ events, plan }) => {
      const waba = `model${++runId}x${Math.floor(Math.random() * 1e9)}`;
      const receivedMs = Date.now();
      // Every event is delivered at least once; the plan adds repeats, reorders and concurrency.
      const all = [...events.map((_, index) => ({ index, salt: 0, wave: 0, via: 0 })), ...plan];
      for (let wave = 0; wave <= 3; wave++) {
        const results = await Promise.all(
          all.filter((d) => d.wave === wave).map((d) => postText(bodyOf(waba, events[d.index] as ModelEvent, d.salt), handlers[d.via])),
        );
        for (const r of results) expect(r.statusCode).toBe(200);
      }
      const v = await view(waba);
      expect(v.statusCode).toBe(200);
      expect(v.body.status).toBe(modelStatus(events, receivedMs));
    },
    120_000,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Webhook fuzz: arbitrary signed bodies never answer 5xx and lose no change; unsigned bodies change nothing.

interface Sent {
  readonly nonce: string;
  /** For account_update changes that may be applied: where its timeline entry would be. */
  readonly candidates: readonly { readonly waba: string; readonly event: string; readonly rawTime: unknown }[];
}

const text = fc.string({ unit: 'binary', maxLength: 40 });
const junk = fc.jsonValue({ maxDepth: 3 });

const fuzzTime = fc.oneof(
  fc.integer({ min: -3600, max: 600 }).map((d) => Math.floor(Date.now() / 1000) + d),
  fc.constantFrom<unknown>(4102444800, 1e16, 1e200, 'soon', null, undefined, { t: 1 }, '1768477204'),
  fc.double(),
);

describe('webhook fuzz', () => {
  test.prop(
    [
      fc.array(
        fc.record({
          idKind: fc.constantFrom('a', 'b', 'a', 'b', 'odd', 'long', 'number'),
          oddId: text,
          time: fuzzTime,
          changes: fc.array(
            fc.record({
              kind: fc.constantFrom('account_update', 'account_update', 'messages', 'other-field', 'no-field', 'bare', 'big'),
              event: fc.oneof(fc.constantFrom(...EVENTS.map((e) => e.event)), text),
              partner: fc.boolean(),
              field: text,
              body: fc.string({ unit: 'binary', maxLength: 60 }),
              phone: fc.oneof(fc.constant('555001'), text),
              extra: junk,
            }),
            { maxLength: 5 },
          ),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.constantFrom('entries', 'entries', 'entries', 'bad-entry-list', 'any-json'),
      junk,
    ],
    { numRuns: propertyRuns(30) },
  )(
    'signed bodies of any shape answer 200, and every change is applied or forwarded',
    async (entries, mode, anyJson) => {
      const run = `f${++runId}x${Math.floor(Math.random() * 1e9)}`;
      const wabas = { a: `${run}a`, b: `${run}b` };
      if (mode === 'any-json') {
        const r = await postText(JSON.stringify(anyJson));
        expect(r.statusCode).toBe(200);
        await takeAll(env.sqs, env.queues.inbound as string);
        return;
      }
      const sent: Sent[] = [];
      let n = 0;
      const bodyEntries = entries.map((e) => {
        const id = e.idKind === 'a' || e.idKind === 'b' ? wabas[e.idKind] : e.idKind === 'long' ? 'x'.repeat(3000) : e.idKind === 'number' ? 12345 : e.oddId;
        const changes = e.changes.map((c) => {
          const nonce = `${run}n${++n}`;
          const wabaInfo = c.partner ? { waba_info: { waba_id: wabas.b } } : {};
          let change: unknown;
          if (c.kind === 'account_update') change = { field: 'account_update', value: { nonce, event: c.event, ...wabaInfo, extra: c.extra } };
          else if (c.kind === 'messages') change = { field: 'messages', value: { nonce, metadata: { phone_number_id: c.phone }, messages: [{ text: { body: c.body } }] } };
          else if (c.kind === 'other-field') change = { field: c.field, value: { nonce, x: c.extra } };
          else if (c.kind === 'no-field') change = { value: { nonce, x: c.extra } };
          else if (c.kind === 'big') change = { field: 'messages', value: { nonce, blob: `${c.body}${'z'.repeat(450_000)}` } };
          else change = [nonce, c.extra];
          const candidates =
            c.kind === 'account_update' ? [{ waba: c.partner ? wabas.b : String(id), event: c.event, rawTime: e.time }] : [];
          sent.push({ nonce, candidates });
          return change;
        });
        return { id, time: e.time, changes };
      });
      const body = mode === 'bad-entry-list' ? { object: 'whatsapp_business_account', entry: { nonce: `${run}whole`, bodyEntries } } : { object: 'whatsapp_business_account', entry: bodyEntries };
      const receivedMs = Date.now();
      const r = await postText(JSON.stringify(body));
      expect(r.statusCode).toBe(200);

      const queued = await takeAll(env.sqs, env.queues.inbound as string);
      const forwardedText = queued.map((m) => m.Body ?? '').join('\n');
      if (mode === 'bad-entry-list') {
        expect(forwardedText).toContain(`${run}whole`);
        return;
      }
      const timelines = new Map<string, ClientView['timeline']>();
      for (const s of sent) {
        if (forwardedText.includes(s.nonce)) continue;
        // Not forwarded: it must be an account_update the relay applied, with its timeline entry.
        const c = s.candidates[0];
        expect(c, `change ${s.nonce} was neither forwarded nor an account_update`).toBeDefined();
        if (!c) continue;
        const ms = modelTimeMs(c.rawTime as number | string, receivedMs);
        expect(ms, `change ${s.nonce} with time ${String(c.rawTime)} was applied`).not.toBeNull();
        if (!timelines.has(c.waba)) {
          const v = await view(c.waba);
          timelines.set(c.waba, v.statusCode === 200 ? v.body.timeline : []);
        }
        const entry = timelines.get(c.waba)?.find((t) => t.event === c.event && t.eventTime === new Date(ms as number).toISOString());
        expect(entry, `change ${s.nonce} (${c.event}) is in the timeline of ${c.waba}`).toBeDefined();
      }
    },
    180_000,
  );

  test.prop([fc.oneof(junk.map((j) => JSON.stringify(j)), fc.string({ unit: 'binary' })), fc.oneof(fc.constant(undefined), text, fc.constant('sha256=00'))], {
    numRuns: propertyRuns(30),
  })('unsigned or wrongly signed bodies answer 401 and change nothing', async (extra, signature) => {
    const waba = `u${++runId}x${Math.floor(Math.random() * 1e9)}`;
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: waba, time: Math.floor(Date.now() / 1000), changes: [{ field: 'account_update', value: { event: 'ACCOUNT_DELETED', extra } }, { field: 'messages', value: { waba } }] }] });
    const r = await postText(body, handlers[0], signature ?? signBody(body, 'not-the-secret'));
    expect(r.statusCode).toBe(401);
    expect((await view(waba)).statusCode).toBe(404);
    expect((await takeAll(env.sqs, env.queues.inbound as string)).filter((m) => m.Body?.includes(waba))).toEqual([]);
  });
});
