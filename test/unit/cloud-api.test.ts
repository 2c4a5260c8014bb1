import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpCloudApi, NoTokenError, parseTokenSecret, SecretTokenProvider } from '../../lambdas/adapters/cloud-api.js';
import { ConfigError } from '../../lambdas/core/shared/errors.js';
import { accepted, CloudApiStandIn, metaError } from '../../local/cloud-api-stand-in.js';
import { freePort } from '../../local/services.js';

const api = new CloudApiStandIn();
beforeAll(async () => {
  await api.start();
});
afterAll(async () => {
  await api.stop();
});

const payload = { messaging_product: 'whatsapp', to: '15551234567', type: 'text', text: { body: 'hi' } };

describe('HttpCloudApi against a local stand-in', () => {
  it('posts the payload as it is with the bearer token and returns the wamid', async () => {
    api.respond = (r) => accepted(String(r.body.to));
    const result = await new HttpCloudApi(api.url, 'v25.0', 2000).send('pn/1', payload, 'tok');
    expect(result).toMatchObject({ kind: 'accepted', wamid: expect.stringMatching(/^wamid\./) });
    const last = api.requests.at(-1);
    expect(last).toMatchObject({ version: 'v25.0', phoneNumberId: 'pn/1', authorization: 'Bearer tok', body: payload });
  });

  it('reuses its connection across sends', async () => {
    api.respond = (r) => accepted(String(r.body.to));
    const client = new HttpCloudApi(api.url, 'v25.0', 2000);
    await client.send('1', payload, 'tok');
    const before = api.connections;
    for (let i = 0; i < 5; i++) expect((await client.send('1', payload, 'tok')).kind).toBe('accepted');
    expect(api.connections).toBe(before);
  });

  it("reads Meta's error object", async () => {
    api.respond = () => metaError(400, 100, 'Invalid parameter', 33);
    const result = await new HttpCloudApi(api.url, 'v25.0', 2000).send('1', payload, 'tok');
    expect(result).toMatchObject({ kind: 'http-error', status: 400, error: { code: 100, subcode: 33, message: 'Invalid parameter', fbtraceId: expect.any(String), details: 'Invalid parameter' } });
  });

  it('reports a hanging request as an ambiguous no-answer after the timeout', async () => {
    api.respond = () => 'hang';
    const result = await new HttpCloudApi(api.url, 'v25.0', 200).send('1', payload, 'tok');
    expect(result).toEqual({ kind: 'no-answer', ambiguous: true, message: 'no answer within 200 ms' });
  });

  it('reports a refused connection as a no-answer that certainly did not send', async () => {
    const port = await freePort();
    const result = await new HttpCloudApi(`http://127.0.0.1:${port}`, 'v25.0', 1000).send('1', payload, 'tok');
    expect(result).toMatchObject({ kind: 'no-answer', ambiguous: false });
  });

  it('treats a 200 without a wamid, or with an unreadable body, as ambiguous', async () => {
    api.respond = () => ({ status: 200, body: { messages: [] } });
    expect(await new HttpCloudApi(api.url, 'v25.0', 1000).send('1', payload, 'tok')).toMatchObject({ kind: 'no-answer', ambiguous: true });
    const html = createServer((_q, s) => s.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
    const port = (html.address() as { port: number }).port;
    expect(await new HttpCloudApi(`http://127.0.0.1:${port}`, 'v25.0', 1000).send('1', payload, 'tok')).toMatchObject({ kind: 'no-answer', ambiguous: true });
    html.closeAllConnections();
    await new Promise((r) => html.close(r));
  });

  it('returns a 5xx with a non-JSON body as an http-error without error details', async () => {
    const bad = createServer((_q, s) => s.writeHead(502).end('Bad Gateway'));
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    const port = (bad.address() as { port: number }).port;
    expect(await new HttpCloudApi(`http://127.0.0.1:${port}`, 'v25.0', 1000).send('1', payload, 'tok')).toEqual({ kind: 'http-error', status: 502, error: null });
    bad.closeAllConnections();
    await new Promise((r) => bad.close(r));
  });

  it('answers after its latency when one is set, sends and probes alike (concurrent sends wait side by side)', async () => {
    const slow = await new CloudApiStandIn({ latencyMs: 150 }).start();
    try {
      const client = new HttpCloudApi(slow.url, 'v25.0', 2000);
      const t0 = performance.now();
      const results = await Promise.all([client.send('1', payload, 'tok'), client.send('2', payload, 'tok')]);
      const took = performance.now() - t0;
      expect(results.map((r) => r.kind)).toEqual(['accepted', 'accepted']);
      expect(took).toBeGreaterThanOrEqual(145);
      expect(took).toBeLessThan(300); // side by side, not one after the other
      const p0 = performance.now();
      expect((await fetch(`${slow.url}/v25.0/1?fields=status`)).status).toBe(200);
      expect(performance.now() - p0).toBeGreaterThanOrEqual(145);
    } finally {
      await slow.stop();
    }
    expect(api.latencyMs).toBe(0);
  });
});

describe('Cloud API tokens', () => {
  it('accepts one plain token or JSON with a default and per-client tokens', async () => {
    expect(parseTokenSecret(' abc ')).toEqual({ default: 'abc', byWaba: new Map() });
    const provider = new SecretTokenProvider(async () => JSON.stringify({ default: 'd', byWaba: { w1: 't1' } }));
    expect(await provider.tokenFor('w1')).toBe('t1');
    expect(await provider.tokenFor('w2')).toBe('d');
  });
  it('fails clearly for a client without a token when there is no default', async () => {
    const provider = new SecretTokenProvider(async () => JSON.stringify({ byWaba: { w1: 't1' } }));
    await expect(provider.tokenFor('w2')).rejects.toThrow(NoTokenError);
  });
  it.each(['', '{not json', '{"byWaba": 3}', '{"byWaba": {"w": ""}}', '{}'])('refuses %j', (text) => {
    expect(() => parseTokenSecret(text)).toThrow(ConfigError);
  });
});
