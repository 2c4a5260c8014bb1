import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { localResources } from '../support/aws.js';
import { setStatus } from '../support/release.js';

const run = promisify(execFile);

/** Imports a Lambda entry point in a fresh Node process, as the Lambda runtime does, with exactly `env`. */
const coldStart = async (fn: string, env: Record<string, string>, script = '') => {
  const code = `const m = await import('./lambdas/${fn}/index.js'); const { lambdaContext } = await import('./local/lambda-context.js'); ${script}`;
  try {
    const out = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR', ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout: out.stdout, stderr: out.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

const base = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', TABLE_NAME: 't' };

describe('Lambda entry points fail closed at start-up', () => {
  it.each([
    ['webhook without an app secret', 'webhook', { ...base, INBOUND_EVENTS_QUEUE_URL: 'http://q', INBOUND_BUCKET_NAME: 'b', RELEASE_QUEUE_URL: 'http://r', WEBHOOK_VERIFY_TOKEN: 'v' }, 'META_APP_SECRET'],
    ['webhook with an empty app secret list', 'webhook', { ...base, INBOUND_EVENTS_QUEUE_URL: 'http://q', INBOUND_BUCKET_NAME: 'b', RELEASE_QUEUE_URL: 'http://r', WEBHOOK_VERIFY_TOKEN: 'v', META_APP_SECRET: ' , ' }, 'META_APP_SECRET'],
    ['webhook without a verify token', 'webhook', { ...base, INBOUND_EVENTS_QUEUE_URL: 'http://q', INBOUND_BUCKET_NAME: 'b', RELEASE_QUEUE_URL: 'http://r', META_APP_SECRET: 's' }, 'WEBHOOK_VERIFY_TOKEN'],
    ['consumer without a token', 'consumer', { ...base, DELAY_QUEUE_URL: 'http://d', DEAD_LETTER_QUEUE_URL: 'http://x', RELEASE_QUEUE_URL: 'http://r' }, 'WHATSAPP_ACCESS_TOKEN'],
    ['consumer with a malformed token secret', 'consumer', { ...base, DELAY_QUEUE_URL: 'http://d', DEAD_LETTER_QUEUE_URL: 'http://x', RELEASE_QUEUE_URL: 'http://r', WHATSAPP_ACCESS_TOKEN: '{"default":' }, 'WHATSAPP_ACCESS_TOKEN'],
    ['status without a table', 'status', { AWS_REGION: 'us-east-1' }, 'TABLE_NAME'],
    ['sweeper without a table', 'sweeper', { AWS_REGION: 'us-east-1' }, 'TABLE_NAME'],
  ])('%s: the import throws and names what is missing', async (_n, fn, env, name) => {
    const r = await coldStart(fn, env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(name);
  });

  it('the real webhook entry point starts with its configuration and rejects an unsigned POST', async () => {
    const env = { ...base, INBOUND_EVENTS_QUEUE_URL: 'http://q', INBOUND_BUCKET_NAME: 'b', RELEASE_QUEUE_URL: 'http://r', META_APP_SECRET: 's', WEBHOOK_VERIFY_TOKEN: 'v', AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint') };
    const r = await coldStart('webhook', env, `const res = await m.handler({ requestContext: { http: { method: 'POST' }, requestId: 'r' }, headers: {}, body: '{}', isBase64Encoded: false }, lambdaContext('webhook')); console.log(res.statusCode);`);
    expect(r).toMatchObject({ code: 0, stdout: '401\n' });
  });
  it('the real status entry point resets a client, says when no release could be asked for, and flushes its metrics', async () => {
    const env = await localResources([]);
    const wabaId = `entry-reset-${Date.now()}`;
    await setStatus(env.store, wabaId, 'OFFBOARDED', Math.floor(Date.now() / 1000) - 60);
    const r = await coldStart(
      'status',
      {
        ...base,
        TABLE_NAME: env.tableName,
        AWS_ENDPOINT_URL_DYNAMODB: env.dynamoEndpoint,
        // Nothing listens there: the release request fails, the reset stands.
        RELEASE_QUEUE_URL: 'http://127.0.0.1:9/000000000000/release',
        AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9',
        POWERTOOLS_METRICS_DISABLED: 'false',
        POWERTOOLS_METRICS_NAMESPACE: 'EntryPointTest',
      },
      `const res = await m.handler({ requestContext: { http: { method: 'POST' }, requestId: 'r' }, pathParameters: { wabaId: '${wabaId}' }, headers: {}, body: '', isBase64Encoded: false }, lambdaContext('status')); console.log(JSON.stringify({ statusCode: res.statusCode, body: JSON.parse(res.body) }));`,
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const answer = JSON.parse(lines.find((l) => l.includes('"statusCode"')) ?? '{}');
    expect(answer).toMatchObject({ statusCode: 200, body: { status: 'CONNECTED', releaseRequested: false } });
    // Embedded metrics on stdout: the reset and the failed release request are counted.
    const emf = lines.filter((l) => l.includes('"_aws"')).join('\n');
    expect(emf).toContain('ClientStatusResets');
    expect(emf).toContain('ReleaseRequestFailures');
  }, 60_000);
});
