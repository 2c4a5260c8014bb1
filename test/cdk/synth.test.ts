import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LAMBDA_NAMES } from '../../lib/lambda-entry.js';

const run = promisify(execFile);

/**
 * `cdk synth` exactly as an operator runs it: offline, bundling with the local esbuild, cdk-nag included. Alone a
 * synth takes well under a minute; the generous limit keeps a busy machine (a loaded CI runner) from failing it.
 */
const SYNTH_TIMEOUT_MS = 600_000;

describe.concurrent('cdk synth', () => {
  it.each(['dev', 'staging', 'prod'])(
    '-c stage=%s succeeds offline and bundles every function',
    async (stage) => {
      const out = await mkdtemp(join(tmpdir(), `relay-synth-${stage}-`));
      try {
        await run('npx', ['cdk', 'synth', '-c', `stage=${stage}`, '-q', '--output', out], {
          env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
          timeout: SYNTH_TIMEOUT_MS,
        });
        const template = JSON.parse(await readFile(join(out, `CoexistenceRelay-${stage}.template.json`), 'utf8'));
        expect(Object.keys(template.Resources).length).toBeGreaterThan(50);
        const assets = (await readdir(out)).filter((d) => d.startsWith('asset.'));
        expect(assets).toHaveLength(LAMBDA_NAMES.length);
        for (const a of assets) {
          const bundle = await stat(join(out, a, 'index.mjs'));
          expect(bundle.size).toBeGreaterThan(100_000);
          // 460 KiB is the budget (docs/performance.md, `npm run bench -- --check`): the bundles carry the environment
          // credential provider only (lib/bundling.ts), not the SDK's default chain.
          expect(bundle.size).toBeLessThanOrEqual(460 * 1024);
          // Minified: a handful of very long lines.
          const code = await readFile(join(out, a, 'index.mjs'), 'utf8');
          expect(code.split('\n').length).toBeLessThan(100);
          // Source maps ship for readable stack traces, without embedded sources (cheaper to load at cold start).
          const map = JSON.parse(await readFile(join(out, a, 'index.mjs.map'), 'utf8'));
          expect(map.mappings.length).toBeGreaterThan(0);
          expect(map.sourcesContent).toBeUndefined();
        }
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    },
    SYNTH_TIMEOUT_MS + 10_000,
  );
});
