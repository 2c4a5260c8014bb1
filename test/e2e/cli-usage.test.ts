import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ID_RULE } from '../../lambdas/core/shared/ids.js';
import { runCli } from '../../local/cli.js';

/** The CLI's answers to mistakes, as a user sees them: exit code, one line, then the command's own help. */
const cli = (...argv: string[]): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => {
    // PORT 9: nothing answers there, so a command that reached the network fails as "not running".
    execFile(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...argv], { env: { ...process.env, PORT: '9' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, out: stdout, err: stderr });
    });
  });

/** The same entry point in this process (a spawn costs seconds): stdout and stderr kept apart as the process does. */
const inProcess = (...argv: string[]): Promise<{ code: number; out: string; err: string }> => withFetch(fetch, {}, ...argv);

/** In this process with a stand-in for the network and the given environment. */
const withFetch = async (fetchFn: typeof fetch, env: Record<string, string>, ...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { PORT: '9', ...env }, { out: (l) => out.push(`${l}\n`), err: (l) => err.push(`${l}\n`), fetch: fetchFn });
  return { code, out: out.join(''), err: err.join('') };
};

const MAIN_HELP = 'Commands (local pipeline or stack):';

describe('CLI usage errors', () => {
  it('an unknown global option: one clear line and the global help, exit 2', async () => {
    const r = await cli('--bogus');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe('error: unknown option --bogus');
    expect(r.err).toContain(MAIN_HELP);
    expect(r.err).not.toContain('positional argument');
    // A command's mistake, spawned too (the table below runs the same entry point in this process).
    const status = await cli('status', 'bad id!');
    expect(status.code).toBe(2);
    expect(status.err).toMatch(/^error: status: "bad id!" is not a WABA id/);
    expect(status.err).toContain('Usage: npm run cli -- status');
  }, 60_000);

  it.each([
    [['status', '--bogus'], 'error: status: unknown option --bogus', 'Usage: npm run cli -- status'],
    [['send', '--waba'], 'error: send: --waba needs a value', 'Usage: npm run cli -- send'],
    [['status', '123', '--text', 'x'], 'error: status: --text does not apply to status (it is an option of send)', 'Usage: npm run cli -- status'],
    [['status', '123', '--secret', 'x'], 'error: status: --secret does not apply to status (it is an option of webhook, webhook-file)', 'Usage: npm run cli -- status'],
    [
      ['events', 'tail', '--stage', 'dev'],
      "error: events: --stage does not apply to events: it reads the local pipeline's relay-events tail queue only (against a stack, subscribe a queue of your own to the topic RelayEventsTopicArn: docs/relay-events.md)",
      'Usage: npm run cli -- events tail',
    ],
    [['cloud-api', 'accept', '--phone-number-id', '1', '--outputs', 'o.json'], "error: cloud-api: --outputs does not apply to cloud-api: it drives the local pipeline's Cloud API stand-in only (against a stack, the Cloud API is real)", 'Usage: npm run cli -- cloud-api'],
    [['webhook', 'offboard', '--waba', '1', '--stage', 'dev'], 'error: webhook: --stage does not apply to webhook: it drives the local pipeline only (against a stack, Meta sends the webhooks)', 'Usage: npm run cli -- webhook'],
    [['status', 'not a waba!'], 'error: status: "not a waba!" is not a WABA id: it must be 1-64 letters, digits, "-" or "_"', 'Usage: npm run cli -- status'],
    [['status'], 'error: status: which WABA? give its id', 'Usage: npm run cli -- status'],
    [['dead-letters', 'list', '--reason', 'lost'], 'error: dead-letters: unknown --reason "lost"', 'Usage: npm run cli -- dead-letters'],
    [['dead-letters', 'list', '--older-than', '3weeks'], 'error: dead-letters: --older-than must be a number and a unit: 30s, 15m, 2h or 7d', 'Usage: npm run cli -- dead-letters'],
    [['dead-letters', 'list', '--dry-run'], 'error: dead-letters: --dry-run applies to redrive (list never changes anything)', 'Usage: npm run cli -- dead-letters'],
    [['dead-letters', 'purge'], 'error: dead-letters: unknown action "purge": list or redrive', 'Usage: npm run cli -- dead-letters'],
    [['client', 'delete', '1'], 'error: client: unknown client action "delete"', 'Usage: npm run cli -- client reset'],
    [['parked', '1', '--max', '0'], 'error: parked: --max must be a positive whole number', 'Usage: npm run cli -- parked'],
    [['inbound', 'head'], 'error: inbound: unknown action "head": tail', 'Usage: npm run cli -- inbound tail'],
    // Ids by the relay's rules in every command, before anything is called or enqueued (nothing answers on PORT 9).
    [['send', '--waba', 'waba!', '--phone-number-id', '555001', '--to', '1555', '--text', 'x'], `error: send: --waba "waba!" is not a WABA id: it ${ID_RULE}`, 'Usage: npm run cli -- send'],
    [['send', '--waba', '1', '--phone-number-id', '555 001', '--to', '1555', '--text', 'x'], `error: send: --phone-number-id "555 001" is not a phone number id: it ${ID_RULE}`, 'Usage: npm run cli -- send'],
    [['send', '--waba', '1', '--phone-number-id', '5', '--to', '1', '--text', 'x', '--message-id', 'm'.repeat(129)], `error: send: --message-id "${'m'.repeat(129)}" is not a message id: it must be 1-128 characters`, 'Usage: npm run cli -- send'],
    [['send', '--waba', 'waba!', '--phone-number-id', '5', '--payload-file', 'missing.json'], `error: send: --waba "waba!" is not a WABA id: it ${ID_RULE}`, 'Usage: npm run cli -- send'],
    [['send', '--envelope-file', 'e.json', '--waba', '1'], 'error: send: --envelope-file is the whole envelope: give --waba in the file, not as a flag', 'Usage: npm run cli -- send'],
    [['webhook', 'offboard', '--waba', 'waba!'], `error: webhook: --waba "waba!" is not a WABA id: it ${ID_RULE}`, 'Usage: npm run cli -- webhook'],
    [['cloud-api', 'refuse', '--phone-number-id', 'pn!'], `error: cloud-api: --phone-number-id "pn!" is not a phone number id: it ${ID_RULE}`, 'Usage: npm run cli -- cloud-api'],
    [['cloud-api', 'statuses', '--phone-number-id', 'pn', '--off', '--waba', 'w w'], `error: cloud-api: --waba "w w" is not a WABA id: it ${ID_RULE}`, 'Usage: npm run cli -- cloud-api'],
    [['events', 'tail', '--waba', 'waba!'], `error: events: --waba "waba!" is not a WABA id: it ${ID_RULE}`, 'Usage: npm run cli -- events tail'],
    [['parked', '--waba', 'waba!'], `error: parked: --waba "waba!" is not a WABA id: it ${ID_RULE}`, 'Usage: npm run cli -- parked'],
    [['message', '1', 'x'.repeat(200)], `error: message: "${'x'.repeat(200)}" is not a message id: it must be 1-128 characters`, 'Usage: npm run cli -- message'],
  ])('%j: one line, then that command\'s help, exit 2', async (argv, line, help) => {
    const r = await inProcess(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')[0]).toBe(line);
    expect(r.err).toContain(help);
    expect(r.err).not.toContain(MAIN_HELP);
  });

  it('an unknown command close to none: the global help, exit 2', async () => {
    const r = await inProcess('frobnicate', '1');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe('error: unknown command "frobnicate"');
    expect(r.err).toContain(MAIN_HELP);
  });

  it.each([
    [['stauts', '1'], 'error: unknown command "stauts" (did you mean "status"?)', '(npm run cli -- --help for every command)'],
    [['stauts', '1', '--jsno'], 'error: unknown command "stauts" (did you mean "status"?)', '(npm run cli -- --help for every command)'],
    [['dead-leters', 'list'], 'error: unknown command "dead-leters" (did you mean "dead-letters"?)', '(npm run cli -- --help for every command)'],
    [['status', '1', '--jsno'], 'error: status: unknown option --jsno (did you mean --json?)', '(npm run cli -- status --help for its usage)'],
    [['send', '--wabba', '1'], 'error: send: unknown option --wabba (did you mean --waba?)', '(npm run cli -- send --help for its usage)'],
    [['--hepl'], 'error: unknown option --hepl (did you mean --help?)', '(npm run cli -- --help for every command)'],
    [['dead-letters', 'lsit'], 'error: dead-letters: unknown action "lsit": list or redrive (did you mean "list"?)', '(npm run cli -- dead-letters --help for its usage)'],
    [['webhook', 'ofboard', '--waba', '1'], 'error: webhook: unknown event "ofboard" (did you mean "offboard"?)', '(npm run cli -- webhook --help for its usage)'],
    [['cloud-api', 'refuze', '--phone-number-id', '1'], 'error: cloud-api: unknown action "refuze": refuse, accept or statuses (did you mean "refuse"?)', '(npm run cli -- cloud-api --help for its usage)'],
  ])('%j: did you mean, and where the help is (not the help), exit 2', async (argv, line, pointer) => {
    const r = await inProcess(...argv);
    expect(r).toEqual({ code: 2, out: '', err: `${line}\n${pointer}\n` });
  });

  it('a webhook refused with 401 names --secret and META_APP_SECRET, and where the secret came from (never the secret)', async () => {
    const refused = (async () => new Response('{"error":"invalid signature"}', { status: 401 })) as typeof fetch;
    const dev = await withFetch(refused, {}, 'webhook', 'offboard', '--waba', '1');
    expect(dev.code).toBe(1);
    expect(dev.out).toBe('POST /webhook -> 401 {"error":"invalid signature"}\n');
    expect(dev.err).toMatch(/^error: webhook: the webhook was refused with 401: the pipeline checks the signature with its app secret \(META_APP_SECRET where npm start runs/);
    expect(dev.err).toContain('this CLI signed with the development default (META_APP_SECRET is not set). Pass --secret <the pipeline\'s app secret>, or export the same META_APP_SECRET here');
    const fromEnv = await withFetch(refused, { META_APP_SECRET: 'shell-secret-1,shell-secret-2' }, 'webhook', 'offboard', '--waba', '1');
    expect(fromEnv.err).toContain('this CLI signed with META_APP_SECRET (its first value)');
    const flag = await withFetch(refused, {}, 'webhook-file', 'package.json', '--secret', 'flag-secret');
    expect(flag.err).toMatch(/^error: webhook-file: the webhook was refused with 401: .* signed with --secret\./);
    expect([dev, fromEnv, flag].map((r) => r.out + r.err).join('')).not.toMatch(/dev-app-secret|shell-secret|flag-secret/);
  });

  it('send: an envelope or fallback file the consumer would refuse is not enqueued, and the line says why (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-send-'));
    try {
      const file = async (name: string, json: unknown) => {
        const path = join(dir, name);
        await writeFile(path, typeof json === 'string' ? json : JSON.stringify(json));
        return path;
      };
      const good = { messageId: 'm1', wabaId: '1029384756', phoneNumberId: '555001', payload: { messaging_product: 'whatsapp', to: '1555', type: 'text', text: { body: 'hi' } } };
      const badWaba = await file('bad-waba.json', { ...good, wabaId: 'waba!' });
      expect(await inProcess('send', '--envelope-file', badWaba)).toEqual({ code: 1, out: '', err: `error: send: --envelope-file ${badWaba}: wabaId: ${ID_RULE}\n` });
      const misspelt = await file('misspelt.json', { ...good, notafter: '2030-01-01T00:00:00Z' });
      expect((await inProcess('send', '--envelope-file', misspelt)).err).toMatch(/^error: send: --envelope-file .*: \(root\): Unrecognized key: "notafter"/);
      const notJson = await file('not.json', '{"messageId":');
      expect((await inProcess('send', '--envelope-file', notJson)).err).toMatch(/^error: send: --envelope-file .*not\.json: not JSON \(/);
      // Too big for the consumer (128 KiB): refused by the consumer's own reading of the body.
      const huge = await file('huge.json', { ...good, payload: { ...good.payload, text: { body: 'x'.repeat(140_000) } } });
      expect((await inProcess('send', '--envelope-file', huge)).err).toMatch(/^error: send: nothing enqueued: the consumer would dead-letter this envelope invalid-envelope \(body is \d+ bytes, over the 131072-byte limit\)/);
      const noTo = await file('no-to.json', { messaging_product: 'whatsapp', type: 'template', template: { name: 'hello_world' } });
      const r = await inProcess('send', '--waba', '1', '--phone-number-id', '5', '--to', '1', '--text', 'x', '--fallback-file', noTo);
      expect(r).toMatchObject({ code: 1, out: '' });
      expect(r.err).toMatch(/^error: send: nothing enqueued: the consumer would dead-letter this envelope invalid-envelope \(fallback\.to: /);
      const array = await file('array.json', '[]');
      expect((await inProcess('send', '--waba', '1', '--phone-number-id', '5', '--to', '1', '--text', 'x', '--fallback-file', array)).err).toBe(
        `error: send: --fallback-file ${array}: not a JSON object (a Cloud API request body)\n`,
      );
      // A good envelope reaches the network (nothing answers on PORT 9).
      const ok = await file('ok.json', good);
      expect((await inProcess('send', '--envelope-file', ok)).err).toMatch(/^error: no pipeline answers at http:\/\/127\.0\.0\.1:9/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('nothing running: one line, exit 1, no help', async () => {
    const r = await cli('status', '123');
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.err).toBe('error: no pipeline answers at http://127.0.0.1:9; start it with "npm start" or pass --url (or --stage for a deployed stack)\n');
  }, 60_000);

  it('--help: the command help on stdout, exit 0', async () => {
    const r = await inProcess('dead-letters', '--help');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('--older-than <age>');
  });
});
