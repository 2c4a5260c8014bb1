import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { esbuildOptions } from '../lib/bundling.js';
import { LAMBDA_NAMES, lambdaEntry } from '../lib/lambda-entry.js';
import { median } from './measure.js';

const run = promisify(execFile);
const FUNCTIONS = LAMBDA_NAMES;
/** Not a function: the AWS SDK clients alone, the floor for bundle size and cold init. */
export const SDK_FLOOR_NAME = 'aws-sdk-clients-only';
type BenchBundle = (typeof FUNCTIONS)[number] | typeof SDK_FLOOR_NAME;

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The cold-init floor: a bundle that only loads and builds the AWS SDK clients every function needs
 * (DynamoDB document client and SQS), bundled like the functions.
 */
const SDK_FLOOR = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
export const clients = [DynamoDBDocumentClient.from(new DynamoDBClient({})), new SQSClient({})];
`;

/** Where a bundle's bytes come from: a package (`@aws-sdk/client-dynamodb`) or a folder of this project (`lambdas/core`). */
const moduleOf = (input: string): string => {
  const nm = input.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = input.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
  }
  return relative(PROJECT_ROOT, input).split('/').slice(0, 2).join('/');
};

/** The largest contributors to a bundle, by bytes in its output (esbuild's metafile). */
const largestModules = (metafile: esbuild.Metafile, top: number): { readonly module: string; readonly bytes: number }[] => {
  const by = new Map<string, number>();
  for (const out of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) by.set(moduleOf(input), (by.get(moduleOf(input)) ?? 0) + bytesInOutput);
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, top).map(([module, bytes]) => ({ module, bytes }));
};

const bundleFunction = async (name: BenchBundle, outdir: string): Promise<{ outfile: string; metafile: esbuild.Metafile }> => {
  const outfile = join(outdir, name, 'index.mjs');
  const result = await esbuild.build({
    ...esbuildOptions(),
    ...(name === SDK_FLOOR_NAME
      ? { stdin: { contents: SDK_FLOOR, resolveDir: PROJECT_ROOT, loader: 'ts' as const, sourcefile: 'sdk-floor.ts' } }
      : { entryPoints: [lambdaEntry(name)] }),
    outfile,
    logLevel: 'silent',
    metafile: true,
  });
  return { outfile, metafile: result.metafile };
};

/** Environment a function needs to finish its cold start without AWS (values, not secret ids). */
const INIT_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  TABLE_NAME: 'bench',
  INBOUND_EVENTS_QUEUE_URL: 'http://127.0.0.1:9/000000000000/inbound',
  INBOUND_BUCKET_NAME: 'bench-inbound',
  DELAY_QUEUE_URL: 'http://127.0.0.1:9/000000000000/delay',
  DEAD_LETTER_QUEUE_URL: 'http://127.0.0.1:9/000000000000/dlq',
  RELEASE_QUEUE_URL: 'http://127.0.0.1:9/000000000000/release',
  META_APP_SECRET: 'bench-secret',
  WEBHOOK_VERIFY_TOKEN: 'bench-token',
  WHATSAPP_ACCESS_TOKEN: 'bench-access',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/** Wall time of one fresh `node` process running `args`. */
const wallMs = async (args: string[]): Promise<number> => {
  const start = process.hrtime.bigint();
  await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...INIT_ENV } });
  return Number(process.hrtime.bigint() - start) / 1e6;
};

export interface BundleResult {
  readonly fn: string;
  readonly bytes: number;
  /** The import alone, a bare node start subtracted. */
  readonly coldInitMs: number;
  /** The same with `--enable-source-maps`, as the stack runs functions (NODE_OPTIONS). */
  readonly coldInitWithSourceMapsMs: number;
  /** The five largest contributors (package or project folder) to the minified bundle. */
  readonly largest: readonly { readonly module: string; readonly bytes: number }[];
}

/**
 * Bundle size and cold init: the median wall time of a fresh `node` importing the bundle, minus the median of a bare
 * `node` start. Runs are interleaved (bare, each bundle, bare, ...) so machine noise hits every figure alike, and made
 * fair to the floor: one untimed round first (the first start of each freshly written file reads it from disk and is
 * slower, which counted against whichever bundles a short run began with), then the order reversed every other round
 * (in a fixed order the floor always ran last, right after the same function, and bare always first).
 */
export const bundleBench = async (runs: number): Promise<BundleResult[]> => {
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-'));
  try {
    const names: BenchBundle[] = [...FUNCTIONS, SDK_FLOOR_NAME];
    const files = new Map<string, string>();
    const metas = new Map<string, esbuild.Metafile>();
    for (const fn of names) {
      const b = await bundleFunction(fn, dir);
      files.set(fn, b.outfile);
      metas.set(fn, b.metafile);
    }
    const bare: number[] = [];
    const plain = new Map<string, number[]>(names.map((n) => [n, []]));
    const mapped = new Map<string, number[]>(names.map((n) => [n, []]));
    const load = (fn: BenchBundle) => `await import(${JSON.stringify(`file://${files.get(fn) as string}`)})`;
    const steps: (BenchBundle | 'bare')[] = ['bare', ...names];
    for (let i = -1; i < runs; i++) {
      for (const step of i % 2 === 0 ? steps : [...steps].reverse()) {
        if (step === 'bare') {
          const ms = await wallMs(['-e', '']);
          if (i >= 0) bare.push(ms);
          continue;
        }
        const ms = await wallMs(['--input-type=module', '-e', load(step)]);
        const msMapped = await wallMs(['--enable-source-maps', '--input-type=module', '-e', load(step)]);
        if (i < 0) continue; // the untimed round
        plain.get(step)?.push(ms);
        mapped.get(step)?.push(msMapped);
      }
    }
    const bareMs = median(bare);
    const over = (xs: number[] | undefined) => Math.max(0, Math.round((median(xs ?? []) - bareMs) * 10) / 10);
    return await Promise.all(
      names.map(async (fn) => ({
        fn,
        bytes: (await stat(files.get(fn) as string)).size,
        coldInitMs: over(plain.get(fn)),
        coldInitWithSourceMapsMs: over(mapped.get(fn)),
        largest: largestModules(metas.get(fn) as esbuild.Metafile, 5),
      })),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
