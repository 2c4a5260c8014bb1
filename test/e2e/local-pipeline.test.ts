import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../lambdas/core/shared/defaults.js';
import { CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { runCli } from '../../local/cli.js';
import type { PipelineInfo } from '../../local/pipeline.js';
import { freePort, localS3, localSqs, queueArn } from '../../local/services.js';
import { putBack, receiveAll } from '../../local/cli/sqs.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { historyWebhook } from '../support/webhooks.js';

/**
 * Starts `npm start`'s entry point as a child process, drives it only over HTTP and SQS (through the CLI, as a
 * user would), then stops it with SIGTERM and checks nothing is left running.
 */
let child: ChildProcess;
let output = '';
let url: string;
let info: PipelineInfo;
const api = new CloudApiStandIn();

const cli = async (...argv: string[]): Promise<{ code: number; out: string }> => {
  const lines: string[] = [];
  const code = await runCli(argv, { PORT: new URL(url).port, META_APP_SECRET: 'e2e-secret' }, { out: (l) => lines.push(l), fetch });
  return { code, out: lines.join('\n') };
};

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- pipeline output ---\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** `message <wabaId> <messageId>`'s view once `ready` holds for it (the CLI answers 404 until the relay knows it). */
const messageViewWhen = async (what: string, wabaId: string, messageId: string, ready: (view: any) => boolean): Promise<any> => {
  let view: unknown;
  await waitFor(what, async () => {
    const r = await cli('message', wabaId, messageId);
    if (r.code !== 0) return false;
    view = JSON.parse(r.out);
    return ready(view);
  });
  return view;
};

const processesMatching = (pattern: string): string[] => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

beforeAll(async () => {
  await api.start();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      META_APP_SECRET: 'e2e-secret',
      WEBHOOK_VERIFY_TOKEN: 'e2e-token',
      WHATSAPP_ACCESS_TOKEN: 'e2e-access',
      GRAPH_API_BASE_URL: api.url,
      // Short enough for a test to see an automated message wait for a human reply's hold and then go.
      HUMAN_REPLY_HOLD_SECONDS: '6',
      AWS_ENDPOINT_URL_DYNAMODB: '',
      AWS_ENDPOINT_URL_SQS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  await waitFor('healthz', async () => {
    if (child.exitCode !== null) throw new Error(`pipeline exited early:\n${output}`);
    const r = await fetch(`${url}/healthz`).catch(() => null);
    if (r?.status !== 200) return false;
    info = (await r.json()) as PipelineInfo;
    return true;
  }, 60_000);
}, 90_000);

afterAll(async () => {
  // SIGTERM first: the pipeline stops its DynamoDB Local (a SIGKILL would leave the JVM running when the SIGTERM test
  // below was filtered out).
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 15_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
    });
  }
  await api.stop();
});

describe('npm start', () => {
  it('prints the URLs, queues and where the secret and tokens came from, never their values', () => {
    expect(output).toContain(`${url}/webhook`);
    expect(output).toContain(info.queues.outbound);
    expect(output).toContain('app secret         from META_APP_SECRET, not shown (short)');
    expect(output).toContain('verify token       from WEBHOOK_VERIFY_TOKEN, not shown (short)');
    expect(output.slice(0, output.indexOf('Ctrl-C stops it.'))).not.toMatch(/e2e-secret|e2e-token|e2e-access/);
  });

  it("gives the consumed queues the stack's redrive policies", async () => {
    const sqs = localSqs(info.sqsEndpoint);
    try {
      for (const name of ['outbound', 'delay', 'inboundEvents'] as const) {
        const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: info.queues[name], AttributeNames: ['RedrivePolicy'] }));
        const policy = JSON.parse(attrs.Attributes?.RedrivePolicy ?? '{}');
        expect(policy).toEqual({ deadLetterTargetArn: await queueArn(sqs, info.redriveDlqs[name]), maxReceiveCount: DEFAULTS.maxReceiveCount });
        expect(info.redriveDlqs[name]).toBe(`${info.queues[name]}-redrive-dlq`);
      }
      const own = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: info.queues.deadLetter, AttributeNames: ['RedrivePolicy'] }));
      expect(own.Attributes?.RedrivePolicy).toBeUndefined();
    } finally {
      sqs.destroy();
    }
  });

  it('answers the subscription handshake with the configured token', async () => {
    const ok = await fetch(`${url}/webhook?hub.mode=subscribe&hub.verify_token=e2e-token&hub.challenge=abc`);
    expect([ok.status, await ok.text()]).toEqual([200, 'abc']);
    expect((await fetch(`${url}/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=abc`)).status).toBe(403);
    expect((await fetch(`${url}/webhook`, { method: 'POST', body: '{}' })).status).toBe(401);
    await waitFor('the rejection logged', () => output.includes('POST /webhook -> 401 (signature rejected: not signed with the app secret)'));
    expect(output).toContain('webhook    WARN webhook signature rejected (problem=missing, bytes=2)');
  });

  it('offboard -> enqueue -> nothing sent -> reconnect -> released within seconds, once, with the default schedule', async () => {
    const waba = `e2e${Date.now()}`;
    expect((await cli('webhook', 'offboard', '--waba', waba)).code).toBe(0);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = `e2e-msg-${waba}-${i}`;
      ids.push(id);
      const r = await cli('send', '--waba', waba, '--phone-number-id', 'pn-1', '--to', `1555000${i % 2}`, '--text', `hello ${i}`, '--message-id', id);
      expect(r).toMatchObject({ code: 0 });
    }
    await waitFor('messages parked', async () => JSON.parse((await cli('status', waba, '--json')).out).messages.parkedNow === 3);
    await new Promise((r) => setTimeout(r, 1500));
    expect(api.requests).toHaveLength(0);

    const reconnectedAt = Date.now();
    expect((await cli('webhook', 'reconnect', '--waba', waba)).code).toBe(0);
    // The default schedule's first hop is 900 s: only the release can send them this soon.
    await waitFor('messages released', () => api.requests.length >= 3, 15_000);
    const firstCall = Math.min(...api.requests.map((r) => r.at));
    expect(firstCall - reconnectedAt).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more arrives
    expect(api.requests.map((r) => r.body.to).sort()).toEqual(['15550000', '15550000', '15550001']);
    // In enqueue order per recipient.
    expect(api.requests.filter((r) => r.body.to === '15550000').map((r) => (r.body.text as { body: string }).body)).toEqual(['hello 0', 'hello 2']);
    const status = JSON.parse((await cli('status', waba, '--json')).out);
    expect(status).toMatchObject({
      status: 'CONNECTED',
      messages: { parked: 3, parkedNow: 0, sent: 3, oldestParkedAgeSeconds: null },
      release: { draining: false, last: { state: 'done', trigger: 'status-connected', total: 3, sent: 3, left: 0 } },
    });
  });

  it('lists and redrives dead letters', async () => {
    const waba = `e2e-rm-${Date.now()}`;
    expect((await cli('webhook', 'partner-removed', '--waba', waba)).code).toBe(0);
    expect((await cli('send', '--waba', waba, '--phone-number-id', 'pn', '--to', '1999', '--text', 'x', '--message-id', 'dl-1')).code).toBe(0);
    await waitFor('a dead letter', async () => (await cli('dead-letters', 'list')).out.includes('client-removed\tdl-1'));
    // Re-added a second later (events in the same second resolve to the more restrictive status).
    const later = String(Math.floor(Date.now() / 1000) + 1);
    expect((await cli('webhook', 'partner-added', '--waba', waba, '--time', later)).code).toBe(0);
    const redrive = await cli('dead-letters', 'redrive');
    expect(redrive.out).toContain('redriven dl-1');
    await waitFor('the redriven message sent', () => api.requests.some((r) => r.body.to === '1999'));
    // The pipeline's log: one readable line for each decision.
    expect(output).toContain(`relay      dead-lettered dl-1 for WABA ${waba}: client-removed (client ${waba} is REMOVED)`);
    expect(output).toContain(`cli        redriven dl-1 for WABA ${waba} (was client-removed) back to the outbound queue`);
  });

  it('operator reset: a far-future event is refused, a reset clears what was stored, later events apply', async () => {
    const waba = `e2e-reset-${Date.now()}`;
    expect((await cli('webhook', 'deleted', '--waba', waba, '--time', '4102444800')).code).toBe(0);
    let status = JSON.parse((await cli('status', waba, '--json')).out);
    expect(status).toMatchObject({ status: 'CONNECTED', timeline: [{ event: 'ACCOUNT_DELETED', effect: 'rejected-time', detail: { problem: 'event-time-in-future' } }] });
    expect((await cli('webhook', 'offboard', '--waba', waba)).code).toBe(0);
    // A message parks while the client is offboarded; the reset releases it at once (the default hop is 15 minutes).
    const to = `1${String(Date.now()).slice(-9)}`;
    expect((await cli('send', '--waba', waba, '--phone-number-id', `pn-${waba}`, '--to', to, '--text', 'after reset')).code).toBe(0);
    await waitFor('the message parked', async () => JSON.parse((await cli('status', waba, '--json')).out).messages?.parkedNow === 1);
    expect(api.requests.some((r) => r.body.to === to)).toBe(false);
    const reset = await cli('reset', waba, '--reason', 'ticket 42', '--json');
    expect(reset.code).toBe(0);
    const after = JSON.parse(reset.out);
    expect(after).toMatchObject({ status: 'CONNECTED', releaseRequested: true });
    await waitFor('the parked message released by the reset', () => api.requests.some((r) => r.body.to === to));
    await waitFor('the release recorded', async () => JSON.parse((await cli('status', waba, '--json')).out).release?.last?.trigger === 'operator');
    // The timeline is ordered by event time: the rejected event (stamped 2100) stays first.
    expect(after.timeline.map((e: { effect: string }) => e.effect)).toEqual(['rejected-time', 'operator-reset', 'status-changed']);
    expect(after.timeline[1]).toMatchObject({ event: 'OPERATOR_RESET', statusBefore: 'OFFBOARDED', detail: { by: 'local-operator', reason: 'ticket 42' } });
    expect((await cli('webhook', 'offboard', '--waba', waba)).code).toBe(0);
    status = JSON.parse((await cli('status', waba, '--json')).out);
    expect(status.status).toBe('OFFBOARDED');
    expect(await cli('reset', `${waba}-never-seen`)).toMatchObject({ code: 1, out: expect.stringContaining('no events received') });
  });

  it('answers 400 for a malformed percent-encoded path, not 500', async () => {
    expect((await fetch(`${url}/clients/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(`${url}/clients/%E0%A4%A/reset`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${url}/clients/abc/reset`)).status).toBe(404);
  });

  it('sends text with emoji, U+FFFF and NUL through the real queues unchanged', async () => {
    const waba = `e2e-text-${Date.now()}`;
    const text = 'ok 😀 \uffff \u0000 done';
    expect((await cli('send', '--waba', waba, '--phone-number-id', 'pn-2', '--to', '1777', '--text', text)).code).toBe(0);
    await waitFor('the message sent', () => api.requests.some((r) => r.body.to === '1777'));
    const sent = api.requests.find((r) => r.body.to === '1777')?.body as { text?: { body?: string } } | undefined;
    expect(sent?.text?.body).toBe(text);
  });

  it('publishes relay events to the relay-events topic; events tail prints a status change as it happens', async () => {
    expect(info.relayEvents.topicArn).toMatch(/^arn:aws:sns:us-east-1:\d{12}:relay-events$/);
    expect(output).toContain(info.relayEvents.topicArn);
    const waba = `e2eev${Date.now()}`;
    const lines: string[] = [];
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((r) => {
      stop = r;
    });
    const tail = runCli(['events', 'tail', '--type', 'client.status_changed', '--waba', waba, '--max', '1'], { PORT: new URL(url).port }, {
      out: (l) => lines.push(l),
      fetch,
      stopped,
    });
    try {
      expect((await cli('webhook', 'offboard', '--waba', waba)).code).toBe(0);
      await waitFor('events tail to print the change', () => lines.length > 0);
      expect(await tail).toBe(0);
    } finally {
      stop();
    }
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^\\S+Z client\\.status_changed waba=${waba} CONNECTED -> OFFBOARDED by ACCOUNT_OFFBOARDED id=[\\w-]{32}$`))]);

    // Without --max the tail runs until stopped (Ctrl-C in a terminal).
    let interrupt: () => void = () => undefined;
    const interrupted = new Promise<void>((r) => {
      interrupt = r;
    });
    const running = runCli(['events', 'tail'], { PORT: new URL(url).port }, { out: () => undefined, fetch, stopped: interrupted });
    await new Promise((r) => setTimeout(r, 300));
    interrupt();
    expect(await running).toBe(0);
  });

  it('refuses bad CLI arguments with a clear message', async () => {
    expect(await cli('webhook', 'explode', '--waba', '1')).toMatchObject({ code: 2, out: expect.stringContaining('unknown event') });
    expect(await cli('send', '--waba', '1')).toMatchObject({ code: 2, out: expect.stringContaining('--phone-number-id is required') });
    expect(await cli('--bogus')).toMatchObject({ code: 2 });
    expect((await cli('send', '--help')).out).toContain('Usage: npm run cli -- send');
    expect(await cli('events', 'tail', '--type', 'message.teleported')).toMatchObject({ code: 2, out: expect.stringContaining('unknown --type "message.teleported"') });
    expect(await cli('events', 'tail', '--max', '0')).toMatchObject({ code: 2, out: expect.stringContaining('--max must be a positive whole number') });
    expect(await cli('events', 'follow')).toMatchObject({ code: 2, out: expect.stringContaining('events: unknown action "follow": tail') });
  });

  it("follows a message's outcome from Meta's statuses, and sends the fallback once when the window closed", async () => {
    // The stand-in posts status webhooks for what it accepts, signed, to the pipeline (as Meta does after the 200).
    api.webhook = { url: `${url}/webhook`, secret: 'e2e-secret' };
    api.statusPlans.set('555777', { until: 'read' });
    api.statusPlans.set('555778', { fail: 131047 });
    const sent = await cli('send', '--waba', '7029384756', '--phone-number-id', '555777', '--to', '15551234567', '--text', 'tracked', '--message-id', 'e2e-outcome-1');
    expect(sent.code).toBe(0);
    const view = await messageViewWhen('outcome read', '7029384756', 'e2e-outcome-1', (v) => v.outcome === 'read');
    expect(view.history.map((h: { state: string }) => h.state)).toEqual(['sent', 'delivered', 'read']);
    expect(view.wamid).toMatch(/^wamid\./);

    // A free-form message to a customer whose window closed: accepted, then failed 131047; the fallback (a template)
    // goes once as <messageId>:fallback.
    const sqs = localSqs(info.sqsEndpoint);
    const envelope = {
      messageId: 'e2e-outcome-2',
      wabaId: '7029384756',
      phoneNumberId: '555778',
      payload: { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'are you there?' } },
      fallback: { messaging_product: 'whatsapp', to: '15551234567', type: 'template', template: { name: 'follow_up', language: { code: 'en' } } },
    };
    await sqs.send(new SendMessageCommand({ QueueUrl: info.queues.outbound, MessageBody: JSON.stringify(envelope) }));
    sqs.destroy();
    const closed = await messageViewWhen('fallback read', '7029384756', 'e2e-outcome-2', (v) => v.fallback?.outcome === 'read');
    expect(closed).toMatchObject({ outcome: 'failed', reason: 'window-closed', fallback: { messageId: 'e2e-outcome-2:fallback', outcome: 'read' } });
    expect(api.requests.filter((q) => q.phoneNumberId === '555778').map((q) => q.body.type)).toEqual(['text', 'template']);
    expect((await cli('message', '7029384756', 'never-sent')).code).not.toBe(0);
    await api.settled();
  });

  it('a BSUID-only envelope is sent, its statuses (recipient_user_id) move its outcome, and 131062 dead-letters it with its reason', async () => {
    api.webhook = { url: `${url}/webhook`, secret: 'e2e-secret' };
    api.statusPlans.set('555779', { until: 'read' });
    const bsuid = 'US.13491208655302741918';
    const sqs = localSqs(info.sqsEndpoint);
    const enqueue = (messageId: string, phoneNumberId: string, type = 'text') =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl: info.queues.outbound,
          MessageBody: JSON.stringify({
            messageId,
            wabaId: '7129384756',
            phoneNumberId,
            payload:
              type === 'text'
                ? { messaging_product: 'whatsapp', recipient: bsuid, type: 'text', text: { body: 'hello by username' } }
                : { messaging_product: 'whatsapp', recipient: bsuid, type: 'template', template: { name: 'otp', language: { code: 'en' } } },
          }),
        }),
      );
    await enqueue('e2e-bsuid-1', '555779');
    const read = await messageViewWhen('the BSUID message read', '7129384756', 'e2e-bsuid-1', (v) => v.outcome === 'read');
    expect(read.outcome).toBe('read');
    // Meta names the person by their BSUID in each status (no phone number): the outcome entries keep it.
    expect(read.history.map((h: { state: string; recipient?: { userId?: string } }) => [h.state, h.recipient?.userId])).toEqual([
      ['sent', bsuid],
      ['delivered', bsuid],
      ['read', bsuid],
    ]);
    expect(api.requests.filter((q) => q.phoneNumberId === '555779').map((q) => [q.body.recipient, q.body.to])).toEqual([[bsuid, undefined]]);

    const saved = api.respond;
    let dead: unknown;
    api.respond = (req) => (req.phoneNumberId === '555780' ? metaError(400, 131062, 'Business-scoped user ID recipients are not supported for this message type') : saved(req));
    try {
      await enqueue('e2e-bsuid-otp', '555780', 'template');
      dead = await messageViewWhen('the 131062 dead letter', '7129384756', 'e2e-bsuid-otp', (v) => v.outcome === 'dead-lettered');
    } finally {
      api.respond = saved;
      sqs.destroy();
    }
    expect(dead).toMatchObject({ outcome: 'dead-lettered', reason: 'recipient-type-not-supported' });
    expect(api.requests.filter((q) => q.phoneNumberId === '555780')).toHaveLength(1);
    const list = await cli('dead-letters', 'list', '--reason', 'recipient-type-not-supported', '--waba', '7129384756');
    expect(list.out).toContain('e2e-bsuid-otp');
    await api.settled();
  });

  it('an automated message to a customer the owner just answered from the app waits for the hold, then goes once; a non-automated one goes at once', async () => {
    const { signBody } = await import('../../lambdas/core/webhook/signature.js');
    const waba = '7229384756';
    const phone = '555781';
    const customer = '15550007777';
    const t = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: waba,
          changes: [
            {
              field: 'smb_message_echoes',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550001234', phone_number_id: phone },
                message_echoes: [{ from: '15550001234', to: customer, id: `wamid.echo${t}`, timestamp: String(t), type: 'text', text: { body: 'a person answers' } }],
              },
            },
          ],
        },
      ],
    });
    const posted = await fetch(`${url}/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': signBody(body, 'e2e-secret') } });
    expect(posted.status).toBe(200);
    const sqs = localSqs(info.sqsEndpoint);
    const envelope = (messageId: string, automated: boolean) => ({
      messageId,
      wabaId: waba,
      phoneNumberId: phone,
      ...(automated ? { automated: true } : {}),
      payload: { messaging_product: 'whatsapp', to: customer, type: 'text', text: { body: messageId } },
    });
    const calls = (text: string) => api.requests.filter((q) => q.phoneNumberId === phone && (q.body.text as { body?: string } | undefined)?.body === text);
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: info.queues.outbound, MessageBody: JSON.stringify(envelope('e2e-bot', true)) }));
      await sqs.send(new SendMessageCommand({ QueueUrl: info.queues.outbound, MessageBody: JSON.stringify(envelope('e2e-human', false)) }));
      await waitFor('the non-automated message sent', () => calls('e2e-human').length === 1, 10_000);
      expect(calls('e2e-bot')).toHaveLength(0);
      expect(JSON.parse((await cli('status', waba, '--json')).out)).toMatchObject({ humanHold: { customers: 1 } });
      // The hold is 6 s from the owner's reply: the automated message goes after it, once.
      await waitFor('the automated message sent after the hold', () => calls('e2e-bot').length === 1, 40_000);
      expect(Date.now()).toBeGreaterThanOrEqual((t + 6) * 1000);
      await new Promise((r) => setTimeout(r, 2000));
      expect(calls('e2e-bot')).toHaveLength(1);
      expect(calls('e2e-human')).toHaveLength(1);
    } finally {
      sqs.destroy();
    }
    // Parked until the hold ends (seconds, not the park schedule's 15 minutes).
    expect(output).toMatch(/consumer {3}parked \S+ for WABA 7229384756 \(park 1, looks again in [1-9] s/);
  }, 60_000);

  it('a 2.9 MB history change posted to the pipeline reaches inbound tail whole; tail says when an object is missing or differs', async () => {
    expect(output).toContain(`inbound bucket   ${info.inboundBucket}`);
    const waba = '8029384756';
    const payload = historyWebhook(waba, 2_900_000);
    const body = Buffer.from(JSON.stringify(payload));
    const r = await fetch(`${url}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, 'e2e-secret') } });
    expect(r.status).toBe(200);

    // What a consumer reads: the message, then the object it points at.
    const sqs = localSqs(info.sqsEndpoint);
    const s3 = localS3(info.s3Endpoint);
    try {
      const mine = (await receiveAll(sqs, info.queues.inboundEvents, 5, 200)).filter((m) => m.MessageAttributes?.wabaId?.StringValue === waba);
      await putBack(sqs, info.queues.inboundEvents, mine);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.MessageAttributes?.valueRef?.StringValue).toBe('true');
      const ref = JSON.parse(mine[0]?.Body ?? '{}').valueRef as { bucket: string; key: string; bytes: number; sha256: string };
      expect(ref.bucket).toBe(info.inboundBucket);
      const object = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      const bytes = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      expect([bytes.length, createHash('sha256').update(bytes).digest('hex')]).toEqual([ref.bytes, ref.sha256]);
      expect(JSON.parse(bytes.toString('utf8'))).toEqual(payload.entry[0]?.changes[0]?.value);

      // The same message pointing at a key that is not there, and at the object with another sha256.
      const send = (wabaId: string, valueRef: unknown) =>
        sqs.send(new SendMessageCommand({ QueueUrl: info.queues.inboundEvents, MessageBody: JSON.stringify({ dedupeId: `d${wabaId}`, wabaId, field: 'history', entryTime: null, receivedAt: '2026-01-01T00:00:00.000Z', valueRef }), MessageAttributes: { wabaId: { DataType: 'String', StringValue: wabaId }, valueRef: { DataType: 'String', StringValue: 'true' } } }));
      await send('8029384757', { ...ref, key: 'inbound/8029384757/gone.json' });
      await send('8029384758', { ...ref, sha256: '0'.repeat(64) });

      const tail = await cli('inbound', 'tail', '--max', '500');
      expect(tail.code).toBe(0);
      const lineOf = (w: string) => tail.out.split('\n').find((l) => l.includes(`WABA ${w}`)) ?? '';
      expect(lineOf(waba)).toContain(`history  WABA ${waba}  -  ${JSON.parse(mine[0]?.Body ?? '{}').dedupeId}  (${ref.bytes} bytes from s3://${ref.bucket}/${ref.key}, sha256 checked)`);
      expect(lineOf('8029384757')).toContain(`valueRef s3://${ref.bucket}/inbound/8029384757/gone.json: object missing`);
      expect(lineOf('8029384758')).toContain(`valueRef s3://${ref.bucket}/${ref.key}: sha256 differs (object ${ref.sha256}, ${ref.bytes} bytes; message ${'0'.repeat(64)}, ${ref.bytes} bytes)`);
    } finally {
      sqs.destroy();
      s3.destroy();
    }
  }, 60_000);

  it('stops on SIGTERM and leaves no process behind', async () => {
    const dynamoPort = new URL(info.dynamodbEndpoint).port;
    expect(processesMatching(`DynamoDBLocal.jar.*-port ${dynamoPort}`)).toHaveLength(1);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(processesMatching(`DynamoDBLocal.jar.*-port ${dynamoPort}`)).toEqual([]);
    expect((await fetch(`${url}/healthz`).catch(() => null))?.status).toBeUndefined();
  });
});
