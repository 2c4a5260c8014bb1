import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { RelayStack } from '../../lib/relay-stack.js';
import { STAGE_CONFIGS, type StageName } from '../../lib/stage-config.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const readJson = (path: string) => JSON.parse(readFileSync(new URL(path, root), 'utf8'));
const cdkJson = readJson('cdk.json') as { context: Record<string, unknown> };
const recommended = readJson('node_modules/aws-cdk-lib/recommended-feature-flags.json') as Record<string, unknown>;

/**
 * Flags kept at their unconfigured (legacy) value on purpose: each rewrites the template of a deployed stack.
 * minimizePolicies merges IAM statements (every function's policy changes); enablePartitionLiterals writes `aws`
 * where `${AWS::Partition}` stands today.
 */
const KEPT_LEGACY: Record<string, unknown> = {
  '@aws-cdk/aws-iam:minimizePolicies': false,
  '@aws-cdk/core:enablePartitionLiterals': false,
};

const template = (stage: StageName, context: Record<string, unknown>) => {
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new RelayStack(app, `CoexistenceRelay-${stage}`, { config: STAGE_CONFIGS[stage], env: { account: '111111111111', region: 'eu-west-1' } });
  return app.synth().getStackByName(stack.stackName).template as unknown;
};

describe('CDK feature flags (cdk synth does not warn about unconfigured flags)', () => {
  it('cdk.json sets every flag the installed aws-cdk-lib recommends, at the recommended value except the listed legacy ones', () => {
    for (const [flag, value] of Object.entries(recommended)) {
      expect(cdkJson.context, flag).toHaveProperty([flag]);
      expect(cdkJson.context[flag], flag).toEqual(flag in KEPT_LEGACY ? KEPT_LEGACY[flag] : value);
    }
  });

  it.each(['dev', 'staging', 'prod'] as const)('%s: the flags leave the synthesized template exactly as without them', (stage) => {
    const { 'cli-telemetry': _, ...flags } = cdkJson.context;
    expect(template(stage, flags)).toEqual(template(stage, {}));
  }, 120_000);
});

describe('bin/app.ts', () => {
  it('answers an unknown -c stage with one clear line on stderr and exit code 1, no stack trace', async () => {
    const failed = await run(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: root,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'production' }) },
    }).then(
      () => null,
      (error: { code: number; stderr: string; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr.trim().split('\n')).toEqual(['coexistence-relay: unknown stage "production": use -c stage=dev|staging|prod']);
  });
});

describe('npm ci on Node 20', () => {
  it('no locked package requires a newer Node than 20 (npm would warn EBADENGINE)', () => {
    const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean };
    const lock = readJson('package-lock.json') as { packages: Record<string, { engines?: { node?: string } }> };
    const node20 = (readJson('package.json') as { engines: { node: string } }).engines.node.replace('>=', '');
    const refusing = Object.entries(lock.packages)
      .filter(([, p]) => typeof p.engines?.node === 'string' && !semver.satisfies('20.20.0', p.engines.node))
      .map(([name, p]) => `${name} (${p.engines?.node})`);
    expect(node20).toMatch(/^20\./);
    expect(refusing).toEqual([]);
  });
});
