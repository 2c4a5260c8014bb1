/**
 * A model-based test of the whole message lifecycle (fast-check commands) on DynamoDB Local, with both executors
 * composed as in production and the Cloud API stand-in over HTTP. Random sequences of: enqueues (texts and templates,
 * with and without a fallback or a near deadline), webhooks (offboard, reconnect, a late redelivered reconnect, a
 * restriction), Cloud API answers (accept, not connected, token refused, window closed, rejected, throughput, 5xx),
 * delay-hop arrivals (in any order, duplicated, as SQS may), fresh copies of messages enqueued again upstream, release
 * runs and redrives of dead letters.
 *
 * The delay and dead-letter queues are in memory here so the model decides when each copy comes back (every other
 * suite runs them on fauxqs). After every step: no message sent twice, none sent while the gate forbids it, none parked
 * once final, no outcome moved back from sent, a final ledger state agrees with what happened. At the end, once the client is back and every
 * answer is an accept: every message is sent, dead-lettered or replaced by its fallback, exactly once.
 */
import { randomUUID } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { DynamoMessageOutcomeStore } from '../../lambdas/adapters/dynamo/message-outcome-store.js';
import { composeConsumer } from '../../lambdas/consumer/compose.js';
import { loadConsumerConfig } from '../../lambdas/consumer/config.js';
import { RESTRICTION_TYPES } from '../../lambdas/core/health/client-health.js';
import { orderKeyOf, type StatusClass } from '../../lambdas/core/status/client-status.js';
import type { OutboundEnvelope } from '../../lambdas/core/outbound/envelope.js';
import type { OutboundRecord, OutboundService } from '../../lambdas/core/outbound/outbound-service.js';
import { noRelayEvents } from '../../lambdas/core/outcomes/ports.js';
import type { QueueMessage } from '../../lambdas/core/outbound/ports.js';
import type { ReleaseService } from '../../lambdas/core/release/release.js';
import { composeReleaser } from '../../lambdas/releaser/compose.js';
import { loadReleaserConfig } from '../../lambdas/releaser/config.js';
import { accepted, type CloudApiReply, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';

const MODES = {
  accept: null,
  'not-connected': () => metaError(400, 133010, 'Account not registered'),
  'token-refused': () => metaError(401, 190, 'Session has expired'),
  'window-closed': () => metaError(400, 131047, 'Re-engagement message'),
  rejected: () => metaError(400, 131026, 'Message undeliverable'),
  throughput: () => metaError(400, 130429, 'Rate limit hit'),
  'server-error': () => metaError(500, 1, 'An unknown error occurred'),
} as const;
type Mode = keyof typeof MODES;

interface Tracked {
  readonly envelope: OutboundEnvelope;
  /** Redrives of its dead letters so far: each may reopen it once. */
  redrives: number;
}

/** What the relay must respect: the client's state as Meta's webhooks gave it. */
interface Model {
  offboarded: boolean;
  restrictedTextsUntil: number;
  mode: Mode;
  readonly messages: Tracked[];
}

/** The system under test, and what the world saw of it. */
interface Real {
  readonly wabaId: string;
  readonly phone: string;
  readonly consumer: OutboundService;
  readonly releaser: ReleaseService;
  readonly messages: DynamoMessageOutcomeStore;
  readonly status: (cls: StatusClass, late?: boolean) => Promise<void>;
  readonly restrict: (untilMs: number) => Promise<void>;
  /** Delay-queue copies waiting to come back. */
  delayed: QueueMessage[];
  readonly deadLetters: { readonly body: string; readonly attributes: Readonly<Record<string, string>> }[];
  /** Accepted sends by messageId, and sends made while the model forbade them. */
  readonly acceptedBy: Map<string, number>;
  readonly violations: string[];
}

let api: CloudApiStandIn;
let env: Awaited<ReturnType<typeof localResources>>;
let current: { model: Model; real: Real } | null = null;

beforeAll(async () => {
  env = await localResources([]);
  api = await new CloudApiStandIn().start();
  api.respond = (req) => {
    const run = current;
    if (!run || req.phoneNumberId !== run.real.phone) return accepted(String(req.body.to));
    const mode = MODES[run.model.mode];
    const reply: CloudApiReply = mode ? mode() : accepted(String(req.body.to));
    if (reply !== 'hang' && reply.status < 300) {
      const id = String((req.body.text as { body?: string } | undefined)?.body ?? (req.body.template as { name?: string } | undefined)?.name);
      run.real.acceptedBy.set(id, (run.real.acceptedBy.get(id) ?? 0) + 1);
      if (run.model.offboarded) run.real.violations.push(`${id} sent while offboarded`);
      if (req.body.type === 'text' && Date.now() < run.model.restrictedTextsUntil) run.real.violations.push(`${id} sent while restricted`);
    }
    return reply;
  };
});
afterAll(async () => {
  await api.stop();
});

const setup = (): { model: Model; real: Real } => {
  const wabaId = `w-${randomUUID().slice(0, 8)}`;
  const phone = `pn-${randomUUID().slice(0, 8)}`;
  const vars = {
    AWS_ENDPOINT_URL_DYNAMODB: env.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: env.sqsEndpoint,
    TABLE_NAME: env.tableName,
    DELAY_QUEUE_URL: 'in-memory',
    DEAD_LETTER_QUEUE_URL: 'in-memory',
    RELEASE_QUEUE_URL: 'in-memory',
    GRAPH_API_BASE_URL: api.url,
    GRAPH_API_TIMEOUT_MS: '2000',
    RECONNECT_SKEW_SECONDS: '0',
    MAX_SEND_ATTEMPTS: '3',
    // A hold's probes come round every second (a hold ends by a probe, or by a status event stamped after it).
    PROBE_INTERVAL_SECONDS: '1',
    PROBE_MAX_INTERVAL_SECONDS: '1',
    PROBE_BUDGET_PERCENT: '100',
    WHATSAPP_ACCESS_TOKEN: 'relay-token',
  };
  const deadLetters: Real['deadLetters'] = [];
  const real: Partial<Real> & { delayed: QueueMessage[] } = { delayed: [] };
  const outcomes = new DynamoMessageOutcomeStore(env.doc, env.tableName, 1);
  const queues = {
    park: async (m: readonly QueueMessage[]) => {
      // A message already final (sent, dead-lettered, replaced) is never parked again, whichever copy this is.
      for (const x of m) {
        const messageId = String((JSON.parse(x.body) as { messageId?: unknown }).messageId);
        const state = (await outcomes.read({ wabaId, messageId }))?.ledger?.state;
        if (state === 'SENT' || state === 'DEAD_LETTERED' || state === 'REPLACED_BY_FALLBACK') real.violations?.push(`${messageId} parked while ${state}`);
      }
      real.delayed.push(...m);
      return new Set<string>();
    },
    deadLetter: async (m: readonly QueueMessage[]) => {
      deadLetters.push(...m.map((x) => ({ body: x.body, attributes: x.attributes ?? {} })));
      return new Set<string>();
    },
  };
  const clients = { doc: env.doc, sqs: env.sqs, tokens: new SecretTokenProvider(async () => 'relay-token'), telemetry: new RecordingTelemetry(), events: noRelayEvents };
  // Release requests (the hold's probe asks for them) are not run by themselves here: the model runs releases.
  const ignore = { send: async () => ({}) } as never;
  // Meta's clock: each event a second after the one before, and never before now.
  let clock = Math.floor(Date.now() / 1000) - 60;
  let lastOffboarded = 0;
  const apply = async (cls: StatusClass, s: number) => {
    const eventId = `${cls}-${s}-${randomUUID().slice(0, 4)}`;
    const event = cls === 'OFFBOARDED' ? 'ACCOUNT_OFFBOARDED' : 'ACCOUNT_RECONNECTED';
    await env.store.applyStatusEvent(wabaId, cls, { orderKey: orderKeyOf(s * 1000, eventId), event, eventId, eventTimeMs: s * 1000, appliedAt: new Date().toISOString() });
  };
  Object.assign(real, {
    wabaId,
    phone,
    consumer: composeConsumer(loadConsumerConfig(vars), { ...clients, sqs: ignore, queues }),
    releaser: composeReleaser({ ...loadReleaserConfig(vars), releaseRatePerSecond: 80 }, { ...clients, sqs: ignore, deadLetter: queues.deadLetter }),
    messages: outcomes,
    status: async (cls: StatusClass, late = false) => {
      // A late redelivery is stamped before the latest offboarding: it must change nothing.
      clock = Math.max(clock + 1, Math.ceil(Date.now() / 1000));
      const s = late ? lastOffboarded - 1 : clock;
      if (cls === 'OFFBOARDED') lastOffboarded = s;
      await apply(cls, s);
    },
    restrict: async (untilMs: number) => {
      clock = Math.max(clock + 1, Math.ceil(Date.now() / 1000));
      const s = clock;
      await env.store.applyRestriction(wabaId, { orderKey: orderKeyOf(s * 1000, `r-${s}`), eventId: `r-${s}`, eventTimeMs: s * 1000, appliedAt: new Date().toISOString(), restrictions: [{ type: RESTRICTION_TYPES.customerInitiated, expiresAtMs: untilMs }] });
    },
    deadLetters,
    acceptedBy: new Map(),
    violations: [],
  });
  return { model: { offboarded: false, restrictedTextsUntil: 0, mode: 'accept', messages: [] }, real: real as Real };
};

const record = (body: string, attributes: Readonly<Record<string, string>>, fromDelayQueue: boolean): OutboundRecord => ({
  id: `sqs-${randomUUID()}`,
  body,
  attributes,
  fromDelayQueue,
  sentTimestampMs: Date.now(),
});

/** Feeds records to the consumer; a record it returns comes back later, as SQS would. */
const consume = async (real: Real, records: readonly OutboundRecord[], back: OutboundRecord[]) => {
  for (let i = 0; i < records.length; i += 10) {
    const batch = records.slice(i, i + 10);
    const { failedIds } = await real.consumer.processBatch(batch);
    back.push(...batch.filter((r) => failedIds.includes(r.id)));
  }
};
let retried: OutboundRecord[] = [];

type Cmd = fc.AsyncCommand<Model, Real>;
const cmd = (name: string, run: (m: Model, r: Real) => Promise<void>): Cmd => ({
  check: () => true,
  run: async (m, r) => {
    await run(m, r);
    await invariants(m, r);
  },
  toString: () => name,
});

const dlOf = (r: Real, messageId: string) => r.deadLetters.filter((d) => (JSON.parse(d.body) as { envelope?: { messageId?: string } }).envelope?.messageId === messageId);

const invariants = async (m: Model, r: Real) => {
  expect(r.violations).toEqual([]);
  for (const t of m.messages) {
    const id = t.envelope.messageId;
    const sent = r.acceptedBy.get(id) ?? 0;
    expect(sent, `${id} sent at most once`).toBeLessThanOrEqual(1);
    expect(r.acceptedBy.get(`fb-${id}`) ?? 0, `fallback of ${id} at most once`).toBeLessThanOrEqual(1);
    const dl = dlOf(r, id).length;
    expect(dl, `${id} dead-lettered at most once per redrive`).toBeLessThanOrEqual(1 + t.redrives);
    const rec = await r.messages.read({ wabaId: r.wabaId, messageId: id });
    const state = rec?.ledger?.state;
    if (state === 'SENT') expect(sent, `${id} SENT means sent`).toBe(1);
    if (state === 'REPLACED_BY_FALLBACK') expect([sent, r.acceptedBy.get(`fb-${id}`)], `${id} replaced`).toEqual([0, 1]);
    if (state === 'DEAD_LETTERED') expect(dl, `${id} DEAD_LETTERED means a dead letter`).toBeGreaterThanOrEqual(1);
    // The outcome never moves back from sent.
    if (sent === 1) expect(Object.keys(rec?.history ?? {})).not.toContain('dead-lettered');
    if (sent === 1 && t.redrives === 0) expect(dl, `${id} sent, never dead-lettered`).toBe(0);
  }
};

/** A new message, tracked by the model. */
const newMessage = (m: Model, r: Real, o: { template: boolean; fallback: boolean; soon: boolean }): OutboundEnvelope => {
  const id = `m-${randomUUID().slice(0, 8)}`;
  const payload = o.template
    ? { messaging_product: 'whatsapp' as const, to: '15550001111', type: 'template', template: { name: id, language: { code: 'en' } } }
    : { messaging_product: 'whatsapp' as const, to: '15550001111', type: 'text', text: { body: id } };
  const e: OutboundEnvelope = {
    messageId: id,
    wabaId: r.wabaId,
    phoneNumberId: r.phone,
    payload,
    ...(o.fallback ? { fallback: { messaging_product: 'whatsapp', to: '15550001111', type: 'template', template: { name: `fb-${id}`, language: { code: 'en' } } } } : {}),
    ...(o.soon ? { notAfter: new Date(Date.now() + 300).toISOString() } : {}),
  };
  m.messages.push({ envelope: e, redrives: 0 });
  return e;
};

const commands = [
  fc.record({ template: fc.boolean(), fallback: fc.boolean(), soon: fc.boolean() }).map(({ template, fallback, soon }) =>
    cmd(`enqueue(${template ? 'template' : 'text'}${fallback ? ', fallback' : ''}${soon ? ', notAfter soon' : ''})`, async (m, r) => {
      const e = newMessage(m, r, { template, fallback, soon });
      await consume(r, [record(JSON.stringify(e), {}, false)], retried);
    }),
  ),
  fc.boolean().map((reverse) =>
    cmd(`enqueue a new message, then every earlier one again upstream${reverse ? ' (newest first)' : ''}`, async (m, r) => {
      // Fresh outbound-queue copies (a duplicate enqueue) behind a new message, in one batch: when the new one goes
      // first and is refused, the client is held for the rest of the batch.
      const copies = m.messages.map((t) => record(JSON.stringify(t.envelope), {}, false));
      const e = newMessage(m, r, { template: false, fallback: false, soon: false });
      await consume(r, [record(JSON.stringify(e), {}, false), ...(reverse ? copies.reverse() : copies)], retried);
    }),
  ),
  fc.constant(cmd('offboard', async (m, r) => {
    await r.status('OFFBOARDED');
    m.offboarded = true;
  })),
  fc.constant(cmd('reconnect', async (m, r) => {
    await r.status('RECONNECTED');
    m.offboarded = false;
  })),
  fc.constant(cmd('late redelivered reconnect', async (_m, r) => {
    await r.status('RECONNECTED', true);
  })),
  fc.constant(cmd('restrict texts for 1 s', async (m, r) => {
    const until = Date.now() + 1_000;
    await r.restrict(until);
    m.restrictedTextsUntil = Math.max(m.restrictedTextsUntil, until + 50);
  })),
  fc.constantFrom(...(Object.keys(MODES) as Mode[])).map((mode) => cmd(`answer ${mode}`, async (m) => {
    m.mode = mode;
  })),
  fc.record({ reverse: fc.boolean(), duplicate: fc.boolean() }).map(({ reverse, duplicate }) =>
    cmd(`hop${reverse ? ' reversed' : ''}${duplicate ? ' duplicated' : ''}`, async (_m, r) => {
      const copies = r.delayed.splice(0).map((q) => record(q.body, q.attributes ?? {}, true));
      const again = retried.splice(0);
      const all = [...copies, ...again];
      const order = reverse ? all.reverse() : all;
      await consume(r, duplicate ? [...order, ...order] : order, retried);
    }),
  ),
  fc.constant(cmd('release', async (_m, r) => {
    await r.releaser.run({ wabaId: r.wabaId, trigger: 'status-connected', requestedAt: new Date().toISOString() }, Date.now() + 1_500);
  })),
  fc.constant(cmd('redrive the dead letters', async (m, r) => {
    const dead = r.deadLetters.splice(0);
    for (const d of dead) {
      const body = JSON.parse(d.body) as { envelope?: OutboundEnvelope; deadLetteredAt: string };
      const t = m.messages.find((x) => x.envelope.messageId === body.envelope?.messageId);
      if (!t || typeof body.envelope !== 'object') continue;
      t.redrives++;
      r.deadLetters.push(d); // kept for the counts: a redrive does not undo the dead letter
      await consume(r, [record(JSON.stringify(body.envelope), { 'relay-redrive-of': body.deadLetteredAt }, false)], retried);
    }
  })),
];

describe('the message lifecycle, model-based', () => {
  test.prop([fc.commands(commands, { maxCommands: 18 })], { numRuns: 12, endOnFailure: true })(
    'sent at most once, never while forbidden, one final state, and everything settles once the client is back',
    async (cmds) => {
      const run = setup();
      current = run;
      retried = [];
      await fc.asyncModelRun(() => ({ model: run.model, real: run.real }), cmds);
      // Settle: the client is back, restrictions over, every answer an accept.
      const { model, real } = run;
      model.mode = 'accept';
      await new Promise((r) => setTimeout(r, Math.max(0, model.restrictedTextsUntil - Date.now())));
      if (model.offboarded) {
        await real.status('RECONNECTED');
        model.offboarded = false;
      }
      const settled = async () => {
        for (const t of model.messages) {
          const state = (await real.messages.read({ wabaId: real.wabaId, messageId: t.envelope.messageId }))?.ledger?.state;
          if (state !== 'SENT' && state !== 'DEAD_LETTERED' && state !== 'REPLACED_BY_FALLBACK') return false;
        }
        return true;
      };
      for (let round = 0; round < 6 && !(await settled()); round++) {
        // A hold ends with its next probe (every second here).
        if (round > 0) await new Promise((r) => setTimeout(r, 1_100));
        const copies = real.delayed.splice(0).map((q) => record(q.body, q.attributes ?? {}, true));
        await consume(real, [...copies, ...retried.splice(0)], retried);
        await real.releaser.run({ wabaId: real.wabaId, trigger: 'status-connected', requestedAt: new Date().toISOString() }, Date.now() + 1_500);
      }
      await invariants(model, real);
      for (const t of model.messages) {
        const id = t.envelope.messageId;
        const state = (await real.messages.read({ wabaId: real.wabaId, messageId: id }))?.ledger?.state;
        expect(['SENT', 'DEAD_LETTERED', 'REPLACED_BY_FALLBACK'], `${id} is final`).toContain(state);
        const done = (real.acceptedBy.get(id) ?? 0) + (real.acceptedBy.get(`fb-${id}`) ?? 0);
        if (state === 'DEAD_LETTERED') expect(done, `${id} dead-lettered, not sent`).toBe(0);
        else expect(done, `${id} sent once`).toBe(1);
      }
      current = null;
    },
  );
});
