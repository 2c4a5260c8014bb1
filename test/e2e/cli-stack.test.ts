import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { deadLetterMessage } from '../../lambdas/core/outbound/dead-letter.js';
import { type RunningPipeline, startPipeline } from '../../local/pipeline.js';
import { localSqs } from '../../local/services.js';
import { isolatedPipelineEnv } from '../support/pipeline-env.js';

/**
 * The CLI against a "deployed stack": the stack is described by an outputs file (as `cdk deploy --outputs-file`
 * writes it) or by CloudFormation, its queues and table are the local emulators (endpoint variables), and its API
 * is the local pipeline behind a proxy that checks the SigV4 signature as API Gateway's IAM authorizer would.
 * Every command runs as an operator runs it: a new `node --import tsx local/cli.ts` process.
 */
const ACCESS_KEY = 'AKIDCLISTACKTEST';
const SECRET_KEY = 'cli-stack-test-secret';
const REGION = 'us-east-1';
const STACK = 'CoexistenceRelay-clitest';

let pipeline: RunningPipeline;
let dir: string;
let outputsFile: string;
let outputs: Record<string, string>;
const servers: Server[] = [];
/** Requests the SigV4 proxy let through, and those it refused. */
const signedCalls: string[] = [];
const refusedCalls: string[] = [];

const listen = async (server: Server): Promise<string> => {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** Recomputes the request's SigV4 signature with the known secret key: only an exact match is let through. */
const sigV4Proxy = (upstream: string): Server =>
  createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://proxy');
    const auth = req.headers.authorization ?? '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/execute-api\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    let ok = false;
    if (m && m[1] === ACCESS_KEY && m[2] === REGION && /^\d{8}T\d{6}Z$/.test(amzDate)) {
      const signedHeaders = (m[3] as string).split(';');
      const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h] ?? '')]));
      const signer = new SignatureV4({ service: 'execute-api', region: REGION, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, sha256: (await import('../../lambdas/adapters/sha256.js')).Sha256 });
      const [host, port] = String(req.headers.host).split(':');
      const expected = await signer.sign(
        {
          method: req.method ?? 'GET',
          protocol: 'http:',
          hostname: host as string,
          ...(port ? { port: Number(port) } : {}),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: { ...headers, 'x-amz-date': amzDate },
          ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
        },
        { signingDate: new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`) },
      );
      ok = expected.headers.authorization === auth;
    }
    if (!ok) {
      refusedCalls.push(`${req.method} ${url.pathname}`);
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
      return;
    }
    signedCalls.push(`${req.method} ${url.pathname}`);
    const r = await fetch(`${upstream}${url.pathname}${url.search}`, { method: req.method ?? 'GET', ...(body.length > 0 ? { body, headers: { 'content-type': 'application/json' } } : {}) });
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await r.arrayBuffer()));
  });

/** DescribeStacks (AWS Query protocol) for one stack, as CloudFormation answers it; any other name does not exist. */
const cloudFormation = (): Server =>
  createServer(async (req, res) => {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    if (form.get('Action') !== 'DescribeStacks' || form.get('StackName') !== STACK) {
      res.writeHead(400, { 'content-type': 'text/xml' }).end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${xml(form.get('StackName') ?? '')} does not exist</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
      );
      return;
    }
    const members = Object.entries(outputs)
      .map(([k, v]) => `<member><OutputKey>${xml(k)}</OutputKey><OutputValue>${xml(v)}</OutputValue></member>`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/xml' }).end(
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${STACK}</StackName><StackId>arn:aws:cloudformation:${REGION}:111111111111:stack/${STACK}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    );
  });

let cfnEndpoint: string;

/** The operator's environment: AWS credentials and region, and endpoint variables that point the SDK at the emulators. */
const operatorEnv = (): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_') && k !== 'PORT') env[k] = v;
  return {
    ...env,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfnEndpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // Nothing local answers here: a command that fell back to the local pipeline would fail.
    PORT: '9',
  };
};

const cli = (...argv: string[]): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...argv], { env: operatorEnv(), timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, out: stdout, err: stderr });
    });
  });

const webhook = async (wabaId: string, event: string, field = 'account_update') => {
  const { signBody } = await import('../../lambdas/core/webhook/signature.js');
  const time = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: wabaId, time, changes: [{ field, value: { event, message_template_id: 7 } }] }] });
  const r = await fetch(`${pipeline.info.url}/webhook`, { method: 'POST', body, headers: { 'x-hub-signature-256': signBody(body, 'cli-stack-app-secret') } });
  expect(r.status).toBe(200);
};

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
};

beforeAll(async () => {
  const tag = `clistack${Date.now()}`;
  pipeline = await startPipeline(
    {
      PORT: '0',
      ...isolatedPipelineEnv(tag),
      META_APP_SECRET: 'cli-stack-app-secret',
      WEBHOOK_VERIFY_TOKEN: 'x',
      WHATSAPP_ACCESS_TOKEN: 'x',
    },
    () => undefined,
  );
  const api = await listen(sigV4Proxy(pipeline.info.url));
  cfnEndpoint = await listen(cloudFormation());
  outputs = {
    WebhookCallbackUrl: `${api}/webhook`,
    [STACK_OUTPUTS.clientStatusUrl]: `${api}/clients/{wabaId}`,
    [STACK_OUTPUTS.outboundQueueUrl]: pipeline.info.queues.outbound,
    [STACK_OUTPUTS.deadLetterQueueUrl]: pipeline.info.queues.deadLetter,
    [STACK_OUTPUTS.inboundEventsQueueUrl]: pipeline.info.queues.inboundEvents,
    [STACK_OUTPUTS.tableName]: pipeline.info.tableName,
    [STACK_OUTPUTS.region]: REGION,
  };
  dir = await mkdtemp(join(tmpdir(), 'cli-stack-'));
  outputsFile = join(dir, 'outputs.json');
  await writeFile(outputsFile, JSON.stringify({ [STACK]: outputs }, null, 2));
}, 90_000);

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(() => r(undefined)));
  await pipeline?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the CLI against a deployed stack (outputs file or CloudFormation; emulators behind endpoint variables)', () => {
  it('operations.md, "Operating a deployed stack": every command runs as written, and the output its comments quote is printed', async () => {
    const operations = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const commandsOf = (text: string) =>
      [...text.matchAll(/```sh\n([\s\S]*?)```/g)]
        .flatMap((m) => (m[1] as string).split('\n'))
        .filter((l) => l.startsWith('npm run cli -- ') && /--stage prod|--outputs outputs\.json/.test(l));
    // Each section's commands in the order it gives them; the last section's start from a client just offboarded.
    const operating = operations.indexOf('## Operating a deployed stack from the CLI');
    const lines = ['OFFBOARD', ...commandsOf(operations.slice(0, operating)), 'OFFBOARD', ...commandsOf(operations.slice(operating))];
    expect(lines.length).toBeGreaterThanOrEqual(8);
    const waba = '1029384756';
    /** Placeholders (`<status>`) stand for one word; the rest is quoted as printed. */
    const asOutput = (comment: string) =>
      new RegExp(comment.split(/(<[^>]+>)/).map((part) => (/^<.*>$/.test(part) ? '\\S+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join(''));
    for (const line of lines) {
      if (line === 'OFFBOARD') {
        // An event time later than any before (a reset in between undid the last one).
        await new Promise((r) => setTimeout(r, 1100));
        await webhook(waba, 'ACCOUNT_OFFBOARDED');
        continue;
      }
      const [command = '', comment = ''] = line.split(/\s{2,}#\s/);
      // The stage named `prod` here is the test's stack, described by its outputs file.
      const argv = [...command.matchAll(/"([^"]*)"|(\S+)/g)]
        .map((m) => m[1] ?? (m[2] as string))
        .slice(4)
        .map((w) => (w === 'outputs.json' ? outputsFile : w));
      const stageAt = argv.indexOf('--stage');
      if (stageAt >= 0) argv.splice(stageAt, 2, '--outputs', outputsFile);
      const r = await cli(...argv);
      expect(r.code, `${line}\n${r.out}${r.err}`).toBe(0);
      // A comment quoting output holds a placeholder or a colon; the others say what the command is for.
      if (/[<:]/.test(comment)) expect(r.out, line).toMatch(asOutput(comment.trim()));
    }
  }, 120_000);

  it('status: a SigV4-signed GET to the IAM route, waiting-now apart from the totals; --json passes the answer through', async () => {
    const waba = `st${Date.now()}`;
    await webhook(waba, 'ACCOUNT_OFFBOARDED');
    const r = await cli('status', waba, '--outputs', outputsFile);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain(`WABA ${waba}: OFFBOARDED since `);
    expect(r.out).toContain('waiting now: nothing parked');
    expect(r.out).toMatch(/totals since \S+: 0 parked, 0 sent, 0 dead-lettered/);
    expect(signedCalls).toContain(`GET /clients/${waba}`);
    const json = await cli('status', waba, '--json', '--stage', 'clitest');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ wabaId: waba, status: 'OFFBOARDED', messages: { parkedNow: 0 } });
    expect(refusedCalls).toEqual([]);
  }, 60_000);

  it('send, parked and client reset: the message parks, is listed with its parked copy, and the reset is signed', async () => {
    const waba = `pk${Date.now()}`;
    await webhook(waba, 'ACCOUNT_OFFBOARDED');
    const sent = await cli('send', '--waba', waba, '--phone-number-id', 'pn-stack', '--to', '15550001', '--text', 'held', '--message-id', `m-${waba}`, '--outputs', outputsFile);
    expect(sent).toMatchObject({ code: 0, out: `enqueued m-${waba} for WABA ${waba}\n` });
    let parked = await cli('parked', waba, '--stage', 'clitest');
    await waitFor('the parked copy', async () => {
      parked = await cli('parked', waba, '--stage', 'clitest');
      return parked.out.includes(`m-${waba}`);
    });
    expect(parked.out).toContain(`1 message(s) parked now for WABA ${waba}`);
    expect(parked.out).toMatch(new RegExp(`m-${waba}  parked since \\S+  from pn-stack to 15550001  parks 1`));
    const status = await cli('status', waba, '--outputs', outputsFile);
    expect(status.out).toMatch(/waiting now: 1 parked message\(s\)/);
    expect(status.out).toMatch(/totals since \S+: 1 parked, 0 sent/);

    const reset = await cli('client', 'reset', waba, '--reason', 'ticket 7', '--outputs', outputsFile);
    expect(reset.code).toBe(0);
    expect(reset.out).toContain(`WABA ${waba}: CONNECTED`);
    expect(reset.out).toContain('OPERATOR_RESET');
    // Who asked and the reason given, in the text (not only in --json's timeline detail).
    expect(reset.out).toMatch(/OPERATOR_RESET {2}operator-reset {2}OFFBOARDED -> CONNECTED {2}by \S+, reason: "ticket 7"/);
    expect(reset.out).toContain('reset: a release of the parked messages was requested');
    expect(signedCalls).toContain(`POST /clients/${waba}/reset`);
    // `reset` stays an alias.
    expect((await cli('reset', waba, '--json', '--outputs', outputsFile)).code).toBe(0);
  }, 120_000);

  it('send --envelope-file enqueues the envelope as written; --fallback-file adds the fallback', async () => {
    // A stack whose outbound queue nobody consumes: what the CLI enqueued can be read back as it is.
    const sqs = localSqs(inject('sqsEndpoint'));
    const queue = (await sqs.send(new CreateQueueCommand({ QueueName: `cli-send-${Date.now()}` }))).QueueUrl as string;
    const file = join(dir, 'quiet-outputs.json');
    await writeFile(file, JSON.stringify({ [STACK]: { ...outputs, [STACK_OUTPUTS.outboundQueueUrl]: queue } }));
    const take = async (): Promise<unknown> => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, WaitTimeSeconds: 2 }));
      const m = out.Messages?.[0];
      if (!m) throw new Error('nothing enqueued');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: m.ReceiptHandle }));
      return JSON.parse(m.Body as string);
    };
    const template = { messaging_product: 'whatsapp', to: '15550002', type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } };
    const envelope = {
      messageId: 'env-1',
      wabaId: 'w-env',
      phoneNumberId: 'pn-env',
      payload: { messaging_product: 'whatsapp', to: '15550002', type: 'text', text: { body: 'héllo 😀' } },
      notAfter: '2030-01-01T00:00:00Z',
      metadata: { order: 42 },
      fallback: template,
    };
    await writeFile(join(dir, 'envelope.json'), JSON.stringify(envelope));
    const whole = await cli('send', '--envelope-file', join(dir, 'envelope.json'), '--outputs', file);
    expect(whole).toMatchObject({ code: 0, out: 'enqueued env-1 for WABA w-env (with a fallback)\n' });
    expect(await take()).toEqual(envelope);

    await writeFile(join(dir, 'fallback.json'), JSON.stringify(template));
    const withFallback = await cli('send', '--waba', 'w-env', '--phone-number-id', 'pn-env', '--to', '15550002', '--text', 'hi', '--message-id', 'fb-1', '--fallback-file', join(dir, 'fallback.json'), '--outputs', file);
    expect(withFallback).toMatchObject({ code: 0, out: 'enqueued fb-1 for WABA w-env (with a fallback)\n' });
    expect(await take()).toMatchObject({ messageId: 'fb-1', wabaId: 'w-env', phoneNumberId: 'pn-env', payload: { to: '15550002', text: { body: 'hi' } }, fallback: template });
    sqs.destroy();
  }, 60_000);

  it('dead-letters list and redrive with filters and --dry-run, on the stack queues', async () => {
    const sqs = localSqs(inject('sqsEndpoint'));
    const waba = `dl${Date.now()}`;
    const put = (messageId: string, reason: 'client-removed' | 'expired', nowMs: number) => {
      const envelope = { messageId, wabaId: waba, phoneNumberId: 'pn-dl', payload: { messaging_product: 'whatsapp', to: '1999', type: 'text', text: { body: 'x' } } };
      const dl = deadLetterMessage({ reason, detail: `test ${reason}`, nowMs, envelope, rawBody: JSON.stringify(envelope), state: { parkCount: 0, sendAttempts: 0, firstParkedAt: null } } as Parameters<typeof deadLetterMessage>[0]);
      return sqs.send(new SendMessageCommand({ QueueUrl: pipeline.info.queues.deadLetter, MessageBody: dl.body }));
    };
    await put(`${waba}-old`, 'client-removed', Date.now() - 3 * 3_600_000);
    await put(`${waba}-new`, 'client-removed', Date.now());
    await put(`${waba}-exp`, 'expired', Date.now());
    sqs.destroy();

    const list = await cli('dead-letters', 'list', '--waba', waba, '--reason', 'client-removed', '--outputs', outputsFile);
    expect(list.code).toBe(0);
    expect(list.out).toContain(`client-removed\t${waba}-old\t${waba}\t`);
    expect(list.out).toContain(`client-removed\t${waba}-new\t${waba}\t`);
    expect(list.out).not.toContain(`${waba}-exp`);
    expect(list.out).toContain('2 dead letter(s) listed (1 other dead letter(s) did not match the filters)');

    const dry = await cli('dead-letters', 'redrive', '--waba', waba, '--older-than', '1h', '--dry-run', '--stage', 'clitest');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`would redrive ${waba}-old (client-removed, WABA ${waba})`);
    expect(dry.out).not.toContain(`${waba}-new`);
    expect(dry.out).toContain('dry run: nothing changed');

    const redrive = await cli('dead-letters', 'redrive', '--waba', waba, '--newer-than', '1h', '--reason', 'expired', '--outputs', outputsFile);
    expect(redrive.out).toContain(`redriven ${waba}-exp (expired)`);
    expect(redrive.out).toContain('1 message(s) moved back to the outbound queue');
    const after = await cli('dead-letters', 'list', '--waba', waba, '--outputs', outputsFile);
    expect(after.out).toContain(`${waba}-old`);
    expect(after.out).toContain(`${waba}-new`);
    expect(after.out).not.toContain(`${waba}-exp`);
  }, 120_000);

  it('inbound tail reads the inbound-events queue and leaves the events there', async () => {
    const waba = `in${Date.now()}`;
    // account_update changes decide status; every other field is forwarded for the partner platform.
    await webhook(waba, 'APPROVED', 'message_template_status_update');
    const first = await cli('inbound', 'tail', '--outputs', outputsFile);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(new RegExp(`message_template_status_update  WABA ${waba}  APPROVED  \\S+`));
    expect((await cli('inbound', 'tail', '--outputs', outputsFile)).out).toContain(`WABA ${waba}`);
  }, 60_000);

  it('explains what is wrong with the stack description, in one line and exit code 1', async () => {
    expect(await cli('status', '123', '--stage', 'nope')).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^error: cannot read stack CoexistenceRelay-nope from CloudFormation: .*does not exist/) });
    const missing = join(dir, 'missing.json');
    expect(await cli('status', '123', '--outputs', missing)).toMatchObject({ code: 1, err: expect.stringContaining(`--outputs ${missing}: ENOENT`) });
    const old = join(dir, 'old.json');
    const { [STACK_OUTPUTS.inboundEventsQueueUrl]: _, ...withoutInbound } = outputs;
    await writeFile(old, JSON.stringify({ [STACK]: withoutInbound, Other: {} }));
    expect(await cli('inbound', 'tail', '--outputs', old)).toMatchObject({ code: 1, err: expect.stringContaining('describes 2 stacks') });
    expect(await cli('inbound', 'tail', '--outputs', old, '--stack', STACK)).toMatchObject({
      code: 1,
      err: `error: stack ${STACK} has no output ${STACK_OUTPUTS.inboundEventsQueueUrl} (deploy the current version of the stack)\n`,
    });
    expect(await cli('status', 'x', '--stage', 'a', '--stack', 'b')).toMatchObject({ code: 1, err: 'error: give --stage or --stack, not both\n' });
    expect(await cli('webhook', 'offboard', '--waba', '1', '--stage', 'clitest')).toMatchObject({ code: 2, err: expect.stringMatching(/^error: webhook: --stage does not apply to webhook: it drives the local pipeline only/) });
  }, 90_000);
});
