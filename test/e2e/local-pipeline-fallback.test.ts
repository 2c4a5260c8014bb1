import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../local/cli.js';
import type { PipelineInfo } from '../../local/pipeline.js';
import { freePort } from '../../local/services.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';

/**
 * `npm start` on a machine without Java (dynalite instead of DynamoDB Local) and with an SQS endpoint given
 * (fauxqs already running: nothing started for it, queues created there).
 */
let child: ChildProcess;
let output = '';
let url: string;
let info: PipelineInfo;

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      PATH: '/nonexistent', // no java on the PATH
      PORT: String(port),
      AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
      AWS_ENDPOINT_URL_DYNAMODB: '',
      OUTBOUND_QUEUE_NAME: `fallback-outbound-${port}`,
      DELAY_QUEUE_NAME: `fallback-delay-${port}`,
      DEAD_LETTER_QUEUE_NAME: `fallback-dlq-${port}`,
      INBOUND_EVENTS_QUEUE_NAME: `fallback-inbound-${port}`,
      META_APP_SECRET: '',
      // Short hops and probe turns so the hold -> probe -> release run below takes seconds.
      PARK_DELAY_SCHEDULE: '1',
      PROBE_INTERVAL_SECONDS: '1',
      PROBE_MAX_INTERVAL_SECONDS: '2',
      PROBE_BUDGET_PERCENT: '100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pipeline exited early:\n${output}`);
    const r = await fetch(`${url}/healthz`).catch(() => null);
    if (r?.status === 200) {
      info = (await r.json()) as PipelineInfo;
      break;
    }
    if (Date.now() > deadline) throw new Error(`pipeline not ready:\n${output}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}, 90_000);

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm start without Java and with an SQS endpoint', () => {
  it('falls back to dynalite, uses the given SQS endpoint and creates the queues there', () => {
    expect(info.dynamodbKind).toBe('dynalite');
    expect(info.sqsEndpoint).toBe(inject('sqsEndpoint'));
    expect(info.queues.outbound).toContain(`fallback-outbound-`);
  });

  it('warns about the development secret it falls back to, and never prints it whole', () => {
    expect(output).toContain('META_APP_SECRET is not set; using the development value');
    expect(output).toContain('app secret         development default, ends "cret" (set META_APP_SECRET to change)');
    expect(output.slice(0, output.indexOf('Ctrl-C stops it.'))).not.toMatch(/dev-app-secret|dev-verify-token|dev-access-token/);
  });

  it('keeps client status on dynalite', async () => {
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '4242', time: 1768477204, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }] }] });
    const r = await fetch(`${url}/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': signBody(body, 'dev-app-secret') } });
    expect(r.status).toBe(200);
    const status = await (await fetch(`${url}/clients/4242`)).json();
    expect(status).toMatchObject({ status: 'OFFBOARDED', timeline: [{ event: 'ACCOUNT_OFFBOARDED', effect: 'status-changed' }] });
  });

  it('the embedded stand-in refusing a number: one refused send, a hold, probes, then everything sent once it is back', async () => {
    const cli = async (...argv: string[]) => {
      const lines: string[] = [];
      const code = await runCli(argv, { PORT: new URL(url).port }, { out: (l) => lines.push(l), fetch });
      return { code, out: lines.join('\n') };
    };
    const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 45_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- pipeline output ---\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const count = (text: string) => output.split('\n').filter((l) => l.includes(text)).length;
    const pn = `pn-hold-${Date.now()}`;
    const waba = `hold${Date.now()}`;
    expect(await cli('cloud-api', 'refuse', '--phone-number-id', pn)).toMatchObject({ code: 0, out: expect.stringContaining('refused with code 133010') });
    for (let i = 0; i < 3; i++) {
      expect((await cli('send', '--waba', waba, '--phone-number-id', pn, '--to', `1666000${i}`, '--text', `held ${i}`)).code).toBe(0);
    }
    // 404 (an error line) until the relay has written something for the client.
    const status = async () => {
      const r = await cli('status', waba, '--json');
      return r.code === 0 ? JSON.parse(r.out) : {};
    };
    await waitFor('the hold', async () => (await status()).health?.hold?.state === 'in-force');
    // dynalite serves no stream: the running totals stay 0 (the banner says so); what waits now is read at once.
    await waitFor('all three parked', async () => (await status()).messages?.parkedNow === 3);
    expect(output).toContain("tally              off: the table has no stream");
    const refused = count(`refused a send from ${pn}`);
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThan(3);
    await new Promise((r) => setTimeout(r, 3000)); // several park hops and probe turns: held messages call nothing
    expect(count(`refused a send from ${pn}`)).toBe(refused);
    expect(count(`probe of ${pn} -> 400 (100/33)`)).toBeGreaterThanOrEqual(1);

    expect((await cli('cloud-api', 'accept', '--phone-number-id', pn)).code).toBe(0);
    await waitFor('the three messages sent', () => count(`from ${pn} -> wamid.`) === 3);
    await waitFor('the parked copies gone', async () => (await status()).messages?.parkedNow === 0);
    expect(await status()).toMatchObject({
      messages: { sent: 0, parked: 0 },
      health: { hold: { state: 'ended', endedBy: 'probe' }, lastProbe: { verdict: 'can-send' } },
    });
    // The text says when the hold ended, what ended it and when it started.
    expect((await cli('status', waba)).out).toMatch(/hold: ended \S+ by a probe \(the number can send\); it started \S+ \(133010: /);
    expect(await cli('cloud-api', 'refuse')).toMatchObject({ code: 2, out: expect.stringContaining('--phone-number-id is required') });
  }, 90_000);

  it('stops on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
