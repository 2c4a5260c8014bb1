import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/services.js';
import { isolatedPipelineEnv } from '../support/pipeline-env.js';

/**
 * The README's walkthrough, run as a reader runs it: `npm start` in one terminal, its first block of CLI commands in
 * another. The lines the README quotes from the pipeline's log and from `status` must be what is printed.
 */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const walkthrough = readme.slice(readme.indexOf('## Walkthrough'));
const block = /```sh\n([\s\S]*?)```/.exec(walkthrough)?.[1] ?? '';
const paragraph = /\n(Within seconds[\s\S]*?)\n\n/.exec(walkthrough)?.[1] ?? '';

/** A shell line's words (double-quoted strings kept whole) and its comment. */
const parse = (line: string): { argv: string[]; comment: string } => {
  const [command = '', comment = ''] = line.split(/\s{2,}#\s/);
  const words = [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? (m[2] as string));
  return { argv: words.slice(4), comment: comment.trim() };
};

/** A quote from the docs (`...` stands for anything) found in `text`. */
const quoted = (text: string, quote: string): boolean =>
  new RegExp(quote.split('...').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*?')).test(text);

/**
 * `status`'s output once it shows every piece (`matches` decides what showing is), asking again every 0.5 s up to
 * `tries` times (what it reports follows the pipeline by a moment); the last output either way.
 */
const statusShowing = async (argv: readonly string[], first: string, pieces: readonly string[], matches: (text: string, piece: string) => boolean, tries = 60): Promise<string> => {
  let out = first;
  for (let i = 0; i < tries && !pieces.every((piece) => matches(out, piece)); i++) {
    await new Promise((res) => setTimeout(res, 500));
    out = (await cli(argv)).out;
  }
  return out;
};

let child: ChildProcess;
let output = '';
let port: number;

const cli = (argv: readonly string[]): Promise<{ code: number; out: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...argv], { env: { ...process.env, PORT: String(port) }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, out: stdout + stderr }),
    );
  });

beforeAll(async () => {
  port = await freePort();
  const tag = `walk${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      // The test's emulators (already running) instead of new ones; names of its own.
      ...isolatedPipelineEnv(tag),
      META_APP_SECRET: '',
      GRAPH_API_BASE_URL: '',
      POWERTOOLS_LOG_LEVEL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const deadline = Date.now() + 60_000;
  while ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pipeline did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 90_000);

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

describe('README walkthrough', () => {
  it('prints what the README quotes, in its banner, its log and `status`', async () => {
    const lines = block.split('\n').filter((l) => l.startsWith('npm run cli -- '));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      const { argv, comment } = parse(line);
      const r = await cli(argv);
      expect(r.code, `${line}\n${r.out}`).toBe(0);
      // A `status` line's comment quotes its output, piece by piece.
      if (argv[0] === 'status') {
        // The send is parked by the consumer a moment after it was enqueued.
        const out = await statusShowing(argv, r.out, comment.split('; '), (text, piece) => text.includes(piece));
        for (const piece of comment.split('; ')) expect(out, line).toContain(piece);
      }
    }
    const quotes = [...paragraph.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    expect(quotes.length).toBeGreaterThanOrEqual(4);
    const waba = parse(lines[0] as string).argv.at(-1) as string;
    const deadline = Date.now() + 45_000;
    const missing = async () => {
      const status = (await cli(['status', waba])).out;
      return quotes.filter((q) => !`${output}\n${status}`.includes(q.endsWith('...') ? q.slice(0, -3) : q));
    };
    let left = await missing();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      left = await missing();
    }
    expect(left, output).toEqual([]);
    expect(output).toContain('Ctrl-C stops it.');
    // The decisions in between, one line each.
    expect(output).toMatch(new RegExp(`consumer {3}parked \\S+ for WABA ${waba} \\(park 1, `));
    expect(output).toMatch(new RegExp(`webhook {4}client status changed \\(wabaId=${waba}, event=ACCOUNT_RECONNECTED, from=OFFBOARDED, to=CONNECTED\\)`));
    expect(output).toMatch(new RegExp(`releaser {3}parked message released \\(wabaId=${waba}, `));
    // One readable line per decision: no raw JSON from the functions' logger.
    expect(output.split('\n').filter((l) => l.trim().startsWith('{'))).toEqual([]);
  }, 180_000);

  it('"Also try": every command succeeds, and the output its comments quote is printed', async () => {
    const alsoTry = walkthrough.slice(walkthrough.indexOf('Also try:'));
    const lines = (/```sh\n([\s\S]*?)```/.exec(alsoTry)?.[1] ?? '').split('\n').filter((l) => l.startsWith('npm run cli -- '));
    expect(lines.length).toBeGreaterThanOrEqual(6);
    /** A comment that quotes output: `<placeholder>` stands for one word, spaces for any run of blanks (tabs too). */
    const asOutput = (comment: string) =>
      new RegExp(comment.split(/(<[^>]+>)/).map((part) => (/^<.*>$/.test(part) ? '\\S+' : part.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+'))).join('\\s+'));
    for (const line of lines) {
      const { argv, comment } = parse(line);
      let r = await cli(argv);
      expect(r.code, `${line}\n${r.out}`).toBe(0);
      if (argv[0] === 'dead-letters' && argv[1] === 'list') {
        // The send before it is dead-lettered by the consumer a moment after it was enqueued.
        for (let i = 0; i < 20 && !asOutput(comment).test(r.out); i++) {
          await new Promise((res) => setTimeout(res, 500));
          r = await cli(argv);
        }
        expect(r.out, line).toMatch(asOutput(comment));
      }
    }
    // The redriven message is sent once the client is back.
    const deadline = Date.now() + 30_000;
    while (!output.includes('cloud-api  accepted "hi" to 15551234567 from 555001') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 500));
    expect(output).toContain('cloud-api  accepted "hi" to 15551234567 from 555001');
  }, 120_000);


  it('a number the Cloud API refuses: held, probed by the sweeper, released within about a minute, as the README says', async () => {
    const start = walkthrough.indexOf('A number the Cloud API refuses');
    const refusedBlock = /```sh\n([\s\S]*?)```/.exec(walkthrough.slice(start))?.[1] ?? '';
    const refusedParagraph = /\n(The pipeline prints one [\s\S]*?)\n\n/.exec(walkthrough.slice(start))?.[1] ?? '';
    const lines = refusedBlock.split('\n').filter((l) => l.startsWith('npm run cli -- '));
    expect(lines.map((l) => parse(l).argv.slice(0, 2).join(' '))).toEqual(['cloud-api refuse', 'send --waba', 'send --waba', 'status 2029384756', 'cloud-api accept']);
    const began = Date.now();
    let accepted = 0;
    for (const line of lines) {
      const { argv, comment } = parse(line);
      const r = await cli(argv);
      expect(r.code, `${line}\n${r.out}`).toBe(0);
      if (argv[0] === 'status') {
        const out = await statusShowing(argv, r.out, comment.split('; '), quoted);
        for (const piece of comment.split('; ')) expect(quoted(out, piece), `${line}\n${out}`).toBe(true);
      }
      if (argv[1] === 'accept') accepted = Date.now();
    }
    // Every quote with a space in it is output: the pipeline's log or `status`.
    const quotes = [...refusedParagraph.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string).filter((q) => q.includes(' '));
    expect(quotes.length).toBeGreaterThanOrEqual(6);
    const waba = '2029384756';
    // "About half a minute after accept": the probe backoff is at most 20 s and the sweeper runs every 5 s.
    const deadline = accepted + 45_000;
    const missing = async () => {
      const status = (await cli(['status', waba])).out;
      return quotes.filter((q) => !quoted(`${output}\n${status}`, q));
    };
    let left = await missing();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      left = await missing();
    }
    expect(left, output).toEqual([]);
    // Each CLI command above takes a few seconds to start; the whole walkthrough still takes about a minute.
    expect(Date.now() - began).toBeLessThan(100_000);
    // The sweeper ended the hold: the can-send probe that ended it was the sweeper's.
    expect(output).toMatch(new RegExp(`sweeper {4}probe: the number can send; hold ended \\(wabaId=${waba}, `));
    expect(output.split('\n').filter((l) => l.includes('refused a send from 555002'))).toHaveLength(1);
  }, 120_000);
});

describe('docs/local-to-real-number.md, steps 4 and 5, against the embedded stand-in', () => {
  const page = readFileSync(new URL('../../docs/local-to-real-number.md', import.meta.url), 'utf8');
  const steps = page.slice(page.indexOf('## 4. Send through the relay'), page.indexOf('## The same settings in AWS'));

  it('every command runs as written (placeholders filled), and prints or logs what its comment says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-real-number-'));
    const waba = '3029384756';
    const fill = (text: string) =>
      text.replaceAll('<WABA id>', waba).replaceAll('<phone number id>', '555003').replaceAll('<your phone, digits only>', '15550003333').replaceAll(' hello.json', ` ${join(dir, 'hello.json')}`);
    // The payload the page shows, as the reader saves it in hello.json.
    const json = /```json\n([\s\S]*?)```/.exec(steps)?.[1] ?? '';
    writeFileSync(join(dir, 'hello.json'), fill(json));
    const lines = [...steps.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split('\n')).filter((l) => l.startsWith('npm run cli -- '));
    expect(lines.map((l) => parse(fill(l)).argv.slice(0, 2).join(' '))).toEqual(['send --waba', `status ${waba}`, 'webhook offboard', 'send --waba', 'webhook reconnect']);
    for (const line of lines) {
      const { argv, comment } = parse(fill(line));
      const from = output.length;
      const r = await cli(argv);
      expect(r.code, `${line}\n${r.out}`).toBe(0);
      if (!comment) continue;
      if (argv[0] === 'status') {
        // The totals are counted from the table's stream, a moment after the send.
        const out = await statusShowing(argv, r.out, [comment], quoted, 40);
        expect(quoted(out, comment), `${line}\n${out}`).toBe(true);
        continue;
      }
      // Any other comment names what the pipeline logs about this client after the command, word by word.
      const logged = () => output.slice(from).split('\n').filter((l) => l.includes(waba)).join('\n');
      const words = comment.split(/,\s*/);
      for (let i = 0; i < 60 && !words.every((w) => logged().includes(w)); i++) await new Promise((res) => setTimeout(res, 500));
      for (const w of words) expect(logged(), `${line}: "${w}"`).toContain(w);
    }
  }, 120_000);
});
