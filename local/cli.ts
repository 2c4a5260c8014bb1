/**
 * `npm run cli -- <command>`: drive a running local pipeline (`npm start`) as Meta and an upstream system would.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { signBody } from '../lambdas/core/signature.js';
import { toSqsJson } from '../lambdas/core/sqs-body.js';
import { DEV_SECRETS, LOCAL_DEFAULTS, type PipelineInfo } from './pipeline.js';
import { localSqs } from './services.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const HELP: Record<string, string> = {
  main: `Drive the local coexistence-relay pipeline (start it first with: npm start)

Usage: npm run cli -- <command> [options]

Commands:
  webhook <event>      Sign and POST an account_update webhook for a WABA
  webhook-file <path>  Sign and POST a JSON file exactly as it is
  send                 Enqueue an outbound message on the outbound queue
  status <wabaId>      Show a client's status, message counters and timeline
  reset <wabaId>       Clear a client's status records (operator reset); it then reads CONNECTED
  dead-letters list    List the dead-letter queue (without removing anything)
  dead-letters redrive Move dead letters back to the outbound queue
  cloud-api refuse     Make the embedded Cloud API stand-in refuse a number's sends, like an offboarded number
  cloud-api accept     Make it send for that number again

Global options:
  --url <url>          The pipeline's URL (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
  --secret <secret>    App secret used to sign webhooks (default $META_APP_SECRET, else the development value)
  -h, --help           Help for a command: npm run cli -- send --help`,
  webhook: `Usage: npm run cli -- webhook <event> --waba <wabaId> [--time <unix seconds>] [--reason <reason>]

<event> is one of:
  offboard          ACCOUNT_OFFBOARDED
  reconnect         ACCOUNT_RECONNECTED
  partner-removed   PARTNER_REMOVED (with disconnection_info; --reason, default USER_RE_REGISTERED)
  partner-added     PARTNER_ADDED
  deleted           ACCOUNT_DELETED
  disable           DISABLED_UPDATE with waba_ban_state DISABLE
  reinstate         DISABLED_UPDATE with waba_ban_state REINSTATE
  or any event name in capitals (e.g. ACCOUNT_RESTRICTION), sent as it is.

--time defaults to now. Example: npm run cli -- webhook offboard --waba 102290129340398`,
  'webhook-file': `Usage: npm run cli -- webhook-file <path.json>

Signs the file's bytes with the app secret and POSTs them to /webhook unchanged.`,
  send: `Usage: npm run cli -- send --waba <wabaId> --phone-number-id <id> --to <number> (--text <body> | --payload-file <path>)
                          [--message-id <id>] [--not-after <ISO-8601>]

Enqueues the documented envelope on the outbound queue. --message-id defaults to a new UUID.`,
  status: `Usage: npm run cli -- status <wabaId>

Prints GET /clients/{wabaId}: status, since when, the deciding event, message counters and the timeline.`,
  reset: `Usage: npm run cli -- reset <wabaId> [--reason <text>]

POSTs /clients/{wabaId}/reset: clears the client's status records (the latest event of each class), so it reads
CONNECTED as if never seen and later events apply normally. The timeline records the reset, who asked and --reason.
Use it to undo a status stored from a wrong event (for example one stamped far in the future before event times
were checked).`,
  'cloud-api': `Usage: npm run cli -- cloud-api refuse --phone-number-id <id> [--code <n>]
       npm run cli -- cloud-api accept --phone-number-id <id>

Tells the embedded Cloud API stand-in (npm start without GRAPH_API_BASE_URL) how a phone number behaves.
refuse  sends from the number fail with --code (default 133010, "may mean offboarded"); probes of it fail with 100/33
accept  the number sends and answers probes as a connected coexistence number (the default)`,
  'dead-letters': `Usage: npm run cli -- dead-letters list
       npm run cli -- dead-letters redrive [--max <n>]

list     prints each dead letter's reason, detail and message id (messages stay on the queue)
redrive  sends the envelope of each dead letter back to the outbound queue and removes the dead letter;
         invalid-envelope entries have no envelope to send and are left in place`,
};

const EVENTS: Record<string, { event: string; extra?: (o: Options) => Record<string, unknown>; partner?: boolean }> = {
  offboard: { event: 'ACCOUNT_OFFBOARDED' },
  reconnect: { event: 'ACCOUNT_RECONNECTED' },
  'partner-removed': {
    event: 'PARTNER_REMOVED',
    partner: true,
    extra: (o) => ({ disconnection_info: { reason: o.reason ?? 'USER_RE_REGISTERED', initiated_by: 'USER' } }),
  },
  'partner-added': { event: 'PARTNER_ADDED', partner: true },
  deleted: { event: 'ACCOUNT_DELETED' },
  disable: { event: 'DISABLED_UPDATE', extra: () => ({ ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: new Date().toDateString() } }) },
  reinstate: { event: 'DISABLED_UPDATE', extra: () => ({ ban_info: { waba_ban_state: 'REINSTATE', waba_ban_date: new Date().toDateString() } }) },
};

interface Options {
  url: string;
  secret: string;
  waba?: string;
  time?: string;
  reason?: string;
  'phone-number-id'?: string;
  to?: string;
  text?: string;
  'payload-file'?: string;
  'message-id'?: string;
  'not-after'?: string;
  max?: string;
  code?: string;
}

export interface CliIo {
  out(line: string): void;
  fetch: typeof fetch;
}

const required = (o: Options, name: keyof Options, command: string): string => {
  const v = o[name];
  if (!v) throw new UsageError(`${command}: --${name} is required (see: npm run cli -- ${command} --help)`);
  return v;
};

const pipelineInfo = async (o: Options, io: CliIo): Promise<PipelineInfo> => {
  let r: Response;
  try {
    r = await io.fetch(`${o.url}/healthz`);
  } catch {
    throw new UsageError(`no pipeline answers at ${o.url}; start it with "npm start" or pass --url`);
  }
  if (!r.ok) throw new UsageError(`the pipeline at ${o.url} is not ready (healthz ${r.status})`);
  return (await r.json()) as PipelineInfo;
};

const postSigned = async (o: Options, io: CliIo, body: Buffer): Promise<void> => {
  const r = await io.fetch(`${o.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, o.secret) },
    body,
  }).catch(() => {
    throw new UsageError(`no pipeline answers at ${o.url}; start it with "npm start" or pass --url`);
  });
  const text = await r.text();
  io.out(`POST /webhook -> ${r.status} ${text}`);
  if (r.status !== 200) throw new UsageError(`webhook refused with ${r.status}`);
};

const webhook = async (args: readonly string[], o: Options, io: CliIo): Promise<void> => {
  const name = args[0];
  if (!name) throw new UsageError('webhook: which event? (see: npm run cli -- webhook --help)');
  const known = EVENTS[name];
  if (!known && !/^[A-Z][A-Z0-9_]+$/.test(name)) throw new UsageError(`webhook: unknown event "${name}" (see: npm run cli -- webhook --help)`);
  const waba = required(o, 'waba', 'webhook');
  const time = o.time ?? String(Math.floor(Date.now() / 1000));
  if (!/^\d+$/.test(time)) throw new UsageError('webhook: --time must be Unix seconds');
  const event = known?.event ?? name;
  const value: Record<string, unknown> = { event, ...(known?.extra?.(o) ?? {}) };
  let entryId = waba;
  if (known?.partner) {
    value.waba_info = { waba_id: waba, owner_business_id: 'local-owner' };
    entryId = 'local-partner-business';
  }
  const payload = { object: 'whatsapp_business_account', entry: [{ id: entryId, time: Number(time), changes: [{ field: 'account_update', value }] }] };
  await postSigned(o, io, Buffer.from(JSON.stringify(payload)));
};

const send = async (o: Options, io: CliIo): Promise<void> => {
  const wabaId = required(o, 'waba', 'send');
  const phoneNumberId = required(o, 'phone-number-id', 'send');
  let payload: Record<string, unknown>;
  if (o['payload-file']) {
    try {
      payload = JSON.parse(await readFile(o['payload-file'], 'utf8'));
    } catch (error) {
      throw new UsageError(`send: cannot read --payload-file: ${(error as Error).message}`);
    }
  } else {
    const to = required(o, 'to', 'send');
    const text = required(o, 'text', 'send');
    payload = { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body: text } };
  }
  if (o['not-after'] && Number.isNaN(Date.parse(o['not-after']))) throw new UsageError('send: --not-after must be an ISO-8601 time');
  const envelope = {
    messageId: o['message-id'] ?? randomUUID(),
    wabaId,
    phoneNumberId,
    payload,
    ...(o['not-after'] ? { notAfter: o['not-after'] } : {}),
  };
  const info = await pipelineInfo(o, io);
  const sqs = localSqs(info.sqsEndpoint);
  // Every non-ASCII character escaped: any SQS accepts the body whatever the text holds (emoji, U+FFFF, NUL).
  await sqs.send(new SendMessageCommand({ QueueUrl: info.queues.outbound, MessageBody: toSqsJson(envelope) }));
  sqs.destroy();
  io.out(`enqueued ${envelope.messageId} for WABA ${wabaId}`);
};

const status = async (args: readonly string[], o: Options, io: CliIo): Promise<void> => {
  const waba = args[0] ?? o.waba;
  if (!waba) throw new UsageError('status: which WABA? (npm run cli -- status <wabaId>)');
  const r = await io.fetch(`${o.url}/clients/${encodeURIComponent(waba)}`).catch(() => {
    throw new UsageError(`no pipeline answers at ${o.url}; start it with "npm start" or pass --url`);
  });
  if (r.status === 404) throw new UsageError(`no events received for WABA ${waba}`);
  io.out(JSON.stringify(await r.json(), null, 2));
};

/** `cloud-api refuse|accept --phone-number-id <id> [--code <n>]`: tells the embedded stand-in how a number behaves. */
const cloudApi = async (args: readonly string[], o: Options, io: CliIo): Promise<void> => {
  const action = args[0];
  if (action !== 'refuse' && action !== 'accept') throw new UsageError(`cloud-api: refuse or accept?\n\n${HELP['cloud-api']}`);
  const phoneNumberId = required(o, 'phone-number-id', 'cloud-api');
  const code = o.code === undefined ? undefined : Number(o.code);
  if (code !== undefined && !(Number.isInteger(code) && code > 0)) throw new UsageError('cloud-api: --code must be a positive integer');
  const info = await pipelineInfo(o, io);
  if (!info.cloudApiEmbedded) throw new UsageError(`cloud-api: the pipeline uses ${info.cloudApiUrl}, not the embedded stand-in`);
  const r = await io.fetch(`${info.cloudApiUrl}/_stand-in/numbers/${encodeURIComponent(phoneNumberId)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(action === 'refuse' ? { refuse: true, ...(code !== undefined ? { code } : {}) } : { refuse: false }),
  });
  const body = await r.text();
  if (r.status !== 200) throw new UsageError(`cloud-api: the stand-in refused: ${r.status} ${body}`);
  const refusing = (JSON.parse(body) as { refusing: { code: number } | null }).refusing;
  io.out(
    refusing
      ? `cloud-api stand-in: sends from ${phoneNumberId} are refused with code ${refusing.code}; probes of it fail with 100/33`
      : `cloud-api stand-in: ${phoneNumberId} sends and answers probes as a connected number`,
  );
};

const reset = async (args: readonly string[], o: Options, io: CliIo): Promise<void> => {
  const waba = args[0] ?? o.waba;
  if (!waba) throw new UsageError('reset: which WABA? (npm run cli -- reset <wabaId> [--reason <text>])');
  const r = await io
    .fetch(`${o.url}/clients/${encodeURIComponent(waba)}/reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(o.reason ? { reason: o.reason } : {}),
    })
    .catch(() => {
      throw new UsageError(`no pipeline answers at ${o.url}; start it with "npm start" or pass --url`);
    });
  if (r.status === 404) throw new UsageError(`no events received for WABA ${waba}`);
  const body = await r.text();
  if (r.status !== 200) throw new UsageError(`reset refused with ${r.status} ${body}`);
  io.out(JSON.stringify(JSON.parse(body), null, 2));
};

const receiveAll = async (sqs: ReturnType<typeof localSqs>, queueUrl: string, visibility: number, max: number): Promise<Message[]> => {
  const all: Message[] = [];
  while (all.length < max) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, max - all.length), VisibilityTimeout: visibility }));
    if (!out.Messages?.length) break;
    all.push(...out.Messages);
  }
  return all;
};

const release = async (sqs: ReturnType<typeof localSqs>, queueUrl: string, messages: readonly Message[]): Promise<void> => {
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
};

const deadLetters = async (args: readonly string[], o: Options, io: CliIo): Promise<void> => {
  const action = args[0];
  if (action !== 'list' && action !== 'redrive') throw new UsageError('dead-letters: list or redrive (see: npm run cli -- dead-letters --help)');
  const max = o.max === undefined ? 1000 : Number(o.max);
  if (!Number.isInteger(max) || max < 1) throw new UsageError('dead-letters: --max must be a positive whole number');
  const info = await pipelineInfo(o, io);
  const sqs = localSqs(info.sqsEndpoint);
  try {
    // SQS cannot peek: messages are received (hidden) while collected, then listing makes them visible again at once.
    const messages = await receiveAll(sqs, info.queues.deadLetter, action === 'list' ? 10 : 60, max);
    if (messages.length === 0) {
      io.out('the dead-letter queue is empty');
      return;
    }
    let moved = 0;
    for (const m of messages) {
      let dl: { reason?: string; detail?: string; envelope?: unknown };
      try {
        dl = JSON.parse(m.Body ?? '');
      } catch {
        dl = { reason: 'unknown', detail: 'not a dead-letter body', envelope: m.Body };
      }
      const env = dl.envelope;
      const id = env && typeof env === 'object' ? (env as { messageId?: string }).messageId : '(raw body)';
      if (action === 'list') {
        io.out(`${dl.reason ?? '?'}\t${id}\t${dl.detail ?? ''}`);
        continue;
      }
      if (!env || typeof env !== 'object') {
        io.out(`kept ${dl.reason}: no envelope to redrive (${dl.detail ?? ''})`);
        continue;
      }
      await sqs.send(new SendMessageCommand({ QueueUrl: info.queues.outbound, MessageBody: toSqsJson(env) }));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: info.queues.deadLetter, Entries: [{ Id: '0', ReceiptHandle: m.ReceiptHandle }] }));
      moved++;
      io.out(`redriven ${id} (${dl.reason})`);
    }
    if (action === 'redrive') io.out(`${moved} message(s) moved back to the outbound queue`);
    else await release(sqs, info.queues.deadLetter, messages);
  } finally {
    sqs.destroy();
  }
};

const CLI_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  secret: { type: 'string' },
  waba: { type: 'string' },
  time: { type: 'string' },
  reason: { type: 'string' },
  'phone-number-id': { type: 'string' },
  to: { type: 'string' },
  text: { type: 'string' },
  'payload-file': { type: 'string' },
  'message-id': { type: 'string' },
  'not-after': { type: 'string' },
  max: { type: 'string' },
  code: { type: 'string' },
} as const;

export const runCli = async (argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof CLI_OPTIONS }>>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: CLI_OPTIONS,
    });
  } catch (error) {
    io.out(`error: ${(error as Error).message}\n\n${HELP.main}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (!command || (parsed.values.help && !HELP[command])) {
    io.out(HELP.main as string);
    return command || parsed.values.help ? 0 : 2;
  }
  if (parsed.values.help) {
    io.out(HELP[command] as string);
    return 0;
  }
  const o: Options = {
    ...parsed.values,
    url: (parsed.values.url ?? `http://127.0.0.1:${env.PORT || LOCAL_DEFAULTS.PORT}`).replace(/\/+$/, ''),
    secret: parsed.values.secret ?? (env.META_APP_SECRET?.split(',')[0]?.trim() || DEV_SECRETS.META_APP_SECRET),
  };
  try {
    switch (command) {
      case 'webhook':
        await webhook(rest, o, io);
        break;
      case 'webhook-file': {
        const path = rest[0];
        if (!path) throw new UsageError('webhook-file: which file? (npm run cli -- webhook-file <path.json>)');
        const bytes = await readFile(path).catch((e: Error) => {
          throw new UsageError(`webhook-file: cannot read ${path}: ${e.message}`);
        });
        await postSigned(o, io, bytes);
        break;
      }
      case 'send':
        await send(o, io);
        break;
      case 'status':
        await status(rest, o, io);
        break;
      case 'reset':
        await reset(rest, o, io);
        break;
      case 'cloud-api':
        await cloudApi(rest, o, io);
        break;
      case 'dead-letters':
        await deadLetters(rest, o, io);
        break;
      default:
        throw new UsageError(`unknown command "${command}"\n\n${HELP.main}`);
    }
    return 0;
  } catch (error) {
    io.out(`error: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2), process.env, { out: (l) => console.log(l), fetch });
}
