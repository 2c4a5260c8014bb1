import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
const inProcess = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { PORT: '9' }, { out: (l) => out.push(`${l}\n`), err: (l) => err.push(`${l}\n`), fetch });
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
    [['status', '123', '--text', 'x'], 'error: status: --text does not apply to status', 'Usage: npm run cli -- status'],
    [['status', 'not a waba!'], 'error: status: "not a waba!" is not a WABA id: it must be 1-64 letters, digits, "-" or "_"', 'Usage: npm run cli -- status'],
    [['status'], 'error: status: which WABA? give its id', 'Usage: npm run cli -- status'],
    [['dead-letters', 'list', '--reason', 'lost'], 'error: dead-letters: unknown --reason "lost"', 'Usage: npm run cli -- dead-letters'],
    [['dead-letters', 'list', '--older-than', '3weeks'], 'error: dead-letters: --older-than must be a number and a unit: 30s, 15m, 2h or 7d', 'Usage: npm run cli -- dead-letters'],
    [['dead-letters', 'list', '--dry-run'], 'error: dead-letters: --dry-run applies to redrive (list never changes anything)', 'Usage: npm run cli -- dead-letters'],
    [['dead-letters', 'purge'], 'error: dead-letters: unknown action "purge": list or redrive', 'Usage: npm run cli -- dead-letters'],
    [['client', 'delete', '1'], 'error: client: unknown client action "delete"', 'Usage: npm run cli -- client reset'],
    [['parked', '1', '--max', '0'], 'error: parked: --max must be a positive whole number', 'Usage: npm run cli -- parked'],
    [['inbound', 'head'], 'error: inbound: unknown action "head": tail', 'Usage: npm run cli -- inbound tail'],
  ])('%j: one line, then that command\'s help, exit 2', async (argv, line, help) => {
    const r = await inProcess(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')[0]).toBe(line);
    expect(r.err).toContain(help);
    expect(r.err).not.toContain(MAIN_HELP);
  });

  it('an unknown command: the global help, exit 2', async () => {
    const r = await inProcess('statsu', '1');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe('error: unknown command "statsu"');
    expect(r.err).toContain(MAIN_HELP);
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
