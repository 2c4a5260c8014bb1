import { RecordingReleases } from '../support/release.js';
import { describe, expect, it } from 'vitest';
import { MemoryClientStore } from '../support/memory-client-store.js';
import { silentTelemetry } from '../../lambdas/core/shared/telemetry.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createWebhookHandler, SECRET_RECHECK_MS } from '../../lambdas/webhook/handler.js';
import { httpEvent } from '../support/aws.js';
import { messagesChange, offboarded } from '../support/webhooks.js';
import type { InboundEvent } from '../../lambdas/core/webhook/ports.js';

const signed = (secret: string) => {
  const body = JSON.stringify(offboarded('77', 1768477204));
  return httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, secret) } });
};

describe('webhook handler', () => {
  it('picks up a rotated app secret after the recheck interval, without a cold start', async () => {
    let now = 1_000_000;
    let secret = 'first';
    let reads = 0;
    const handler = createWebhookHandler({
      store: new MemoryClientStore(),
      inbound: { forward: async () => undefined },
      releases: new RecordingReleases(),
      telemetry: silentTelemetry,
      secrets: async () => {
        reads++;
        return { appSecrets: [secret], verifyToken: 't' };
      },
      reconnectSkewMs: 300_000,
      timelineRetentionDays: 1,
      now: () => now,
    });
    expect((await handler(signed('first'))).statusCode).toBe(200);
    secret = 'second';
    now += SECRET_RECHECK_MS - 1;
    expect((await handler(signed('second'))).statusCode).toBe(401); // not looked at again yet
    expect(reads).toBe(1);
    now += 2;
    expect((await handler(signed('second'))).statusCode).toBe(200);
    expect((await handler(signed('first'))).statusCode).toBe(401);
    expect(reads).toBe(2);
  });

  it('answers 405 for other methods and 500 (never open) when the secrets cannot be read', async () => {
    const handler = createWebhookHandler({
      store: new MemoryClientStore(),
      inbound: { forward: async () => undefined },
      releases: new RecordingReleases(),
      telemetry: silentTelemetry,
      secrets: async () => Promise.reject(new Error('Secrets Manager unavailable')),
      reconnectSkewMs: 300_000,
      timelineRetentionDays: 1,
    });
    expect((await handler(httpEvent({ method: 'DELETE', path: '/webhook' }))).statusCode).toBe(405);
    const r = await handler(signed('anything'));
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toContain('Secrets Manager');
  });

  it('logs one "webhook stored" line per POST: the summary, then the request id', async () => {
    const lines: [string, Readonly<Record<string, unknown>> | undefined][] = [];
    const handler = createWebhookHandler({
      store: new MemoryClientStore(),
      inbound: { forward: async () => undefined },
      releases: new RecordingReleases(),
      telemetry: { ...silentTelemetry, info: (message, fields) => void lines.push([message, fields]) },
      secrets: async () => ({ appSecrets: ['s'], verifyToken: 't' }),
      reconnectSkewMs: 300_000,
      timelineRetentionDays: 1,
    });
    const event = signed('s');
    expect((await handler(event)).statusCode).toBe(200);
    const stored = lines.filter(([m]) => m === 'webhook stored');
    expect(stored).toHaveLength(1);
    const fields = stored[0]?.[1] ?? {};
    expect(Object.keys(fields)).toEqual(['accountUpdates', 'statusChanges', 'forwarded', 'unreadable', 'requestId']);
    expect(fields).toEqual({ accountUpdates: 1, statusChanges: 1, forwarded: 0, unreadable: 0, requestId: event.requestContext.requestId });
  });

  it('reads a text body as its UTF-8 bytes, like a base64 body of those bytes (a lone surrogate reads as U+FFFD)', async () => {
    const json = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '77', time: 1768477204, changes: [messagesChange('77', 1768477204, 'caf\u00e9 \ud83d\ude00 \ud800!')] }] });
    // A raw lone surrogate in the text (JSON.stringify escapes it): its UTF-8 bytes, which Meta would have signed, are EF BF BD.
    const text = json.replace('\\ud800', '\ud800');
    const bytes = Buffer.from(text, 'utf8');
    const headers = { 'x-hub-signature-256': signBody(bytes, 's') };
    const forwardedBy = async (event: ReturnType<typeof httpEvent>): Promise<readonly InboundEvent[]> => {
      const forwarded: InboundEvent[] = [];
      const handler = createWebhookHandler({
        store: new MemoryClientStore(),
        inbound: { forward: async (events) => void forwarded.push(...events) },
        releases: new RecordingReleases(),
        telemetry: silentTelemetry,
        secrets: async () => ({ appSecrets: ['s'], verifyToken: 't' }),
        reconnectSkewMs: 300_000,
        timelineRetentionDays: 1,
        now: () => 1768477300000,
      });
      expect((await handler(event)).statusCode).toBe(200);
      return forwarded;
    };
    const asText = await forwardedBy({ ...httpEvent({ method: 'POST', path: '/webhook', headers }), body: text, isBase64Encoded: false });
    const asBase64 = await forwardedBy({ ...httpEvent({ method: 'POST', path: '/webhook', headers }), body: bytes.toString('base64'), isBase64Encoded: true });
    expect(asText).toHaveLength(1);
    expect(asText).toEqual(asBase64);
    expect(JSON.stringify(asText[0]?.value)).toContain('caf\u00e9 \ud83d\ude00 \ufffd!');
  });

  it.each([
    ['an empty verify token', { appSecrets: ['s'], verifyToken: '' }],
    ['an app secret list with nothing usable', { appSecrets: [' '], verifyToken: 't' }],
  ])('answers a configuration problem (%s) with 500 and echoes nothing, never 400', async (_n, secrets) => {
    const logged: string[] = [];
    const handler = createWebhookHandler({
      store: new MemoryClientStore(),
      inbound: { forward: async () => undefined },
      releases: new RecordingReleases(),
      telemetry: { ...silentTelemetry, error: (message) => void logged.push(message) },
      secrets: async () => secrets,
      reconnectSkewMs: 300_000,
      timelineRetentionDays: 1,
    });
    for (const event of [signed('s'), httpEvent({ method: 'GET', path: '/webhook', query: { 'hub.mode': 'subscribe', 'hub.verify_token': '', 'hub.challenge': 'c' } })]) {
      const r = await handler(event);
      expect(r).toMatchObject({ statusCode: 500, body: JSON.stringify({ error: 'internal error' }) });
    }
    expect(logged).toEqual(['request failed: configuration problem', 'request failed: configuration problem']);
  });
});
