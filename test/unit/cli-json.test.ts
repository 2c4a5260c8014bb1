import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { outboundEnvelopeSchema } from '../../lambdas/core/outbound/envelope.js';
import { CliError } from '../../local/cli/errors.js';
import { checkJson, readJsonFile } from '../../local/cli/json.js';

/** The CLI's one reader of JSON it is given: parse, check with a schema, say in one line what is wrong. */
const Point = z.object({ x: z.number(), y: z.number() });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-json-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkJson', () => {
  it.each([
    ['{"x":1,"y":2}', { ok: true, value: { x: 1, y: 2 } }],
    ['{"x":1', { ok: false, problem: expect.stringMatching(/^not JSON \(.+\)$/) }],
    ['{"x":"1","y":2}', { ok: false, problem: 'x: Invalid input: expected number, received string' }],
    ['[]', { ok: false, problem: '(root): Invalid input: expected object, received array' }],
  ])('%s', (text, expected) => {
    // Prepare / Act
    const r = checkJson(text, Point);
    // Assess
    expect(r).toEqual(expected);
  });

  it('takes the core schemas (zod/mini) as well: an envelope with a bad WABA id names the field', () => {
    const r = checkJson(JSON.stringify({ messageId: 'm', wabaId: 'waba!', phoneNumberId: '1', payload: { messaging_product: 'whatsapp', to: '1' } }), outboundEnvelopeSchema);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.problem).toMatch(/^wabaId: /);
  });
});

describe('readJsonFile', () => {
  it('returns the checked value', async () => {
    const path = join(dir, 'ok.json');
    await writeFile(path, '{"x":1,"y":2}');
    await expect(readJsonFile(path, Point, '--point')).resolves.toEqual({ x: 1, y: 2 });
  });

  it('a missing file, text that is not JSON and JSON of the wrong shape: one CliError naming the flag and the file', async () => {
    const missing = join(dir, 'missing.json');
    await expect(readJsonFile(missing, Point, '--point')).rejects.toThrow(new CliError(`--point ${missing}: ENOENT: no such file or directory, open '${missing}'`));
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"x":');
    await expect(readJsonFile(broken, Point, '--point')).rejects.toThrow(/^--point .*broken\.json: not JSON \(/);
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, '{"x":1}');
    await expect(readJsonFile(wrong, Point, '--point')).rejects.toThrow(`--point ${wrong}: y: Invalid input: expected number, received undefined`);
    // What the file should have been, when the caller says it.
    await expect(readJsonFile(wrong, Point, '--point', 'not a point')).rejects.toThrow(`--point ${wrong}: not a point`);
  });
});
