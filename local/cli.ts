/**
 * `npm run cli -- <command>`: drive the local pipeline (`npm start`) as Meta and an upstream system would, and operate
 * it or a deployed stack (`--stage`, `--stack`, `--outputs`; see ./target.ts).
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
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { DynamoParkedStore } from '../lambdas/adapters/dynamo/release-stores.js';
import { ID_RULE, isRelayId } from '../lambdas/core/ids.js';
import { DEAD_LETTER_REASONS } from '../lambdas/core/outbound-decision.js';
import { parseRelayEvent } from '../lambdas/core/relay-event-schema.js';
import { RELAY_EVENT_TYPES, type RelayEvent } from '../lambdas/core/relay-events.js';
import { signBody } from '../lambdas/core/signature.js';
import { toSqsJson } from '../lambdas/core/sqs-body.js';
import { DEV_SECRETS, LOCAL_DEFAULTS } from './pipeline.js';
import { localSqs } from './services.js';
import { REDRIVEN_ATTRIBUTE } from './sqs-observer.js';
import { CliError, type RelayTarget, resolveTarget } from './target.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A mistake in the command line: one line, then the command's own help; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(message);
  }
}

const TARGET_HELP = `Target (default: the local pipeline):
  --url <url>          The local pipeline's URL (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
  --stage <name>       A deployed stack, CoexistenceRelay-<name>, read from CloudFormation with your AWS credentials
  --stack <name>       A deployed stack by its name
  --outputs <file>     A deployed stack described by the file \`cdk deploy --outputs-file <file>\` wrote`;

const HELP: Record<string, string> = {
  main: `Drive the local coexistence-relay pipeline (start it first with: npm start), or operate a deployed stack

Usage: npm run cli -- <command> [options]

Commands (local pipeline or stack):
  status <wabaId>        A client's status, messages waiting now, running totals and timeline
  parked <wabaId>        The messages parked now for a client, in the order a release sends them
  client reset <wabaId>  Clear a client's status records (operator reset); it then reads CONNECTED (alias: reset)
  message <wabaId> <messageId>  A message's outcome (parked, sent, delivered, read, failed, dead-lettered), wamid, history
  dead-letters list      List dead letters, with filters (without removing anything)
  dead-letters redrive   Move dead letters back to the outbound queue (--dry-run shows what would move)
  inbound tail           Show the events waiting on the inbound-events queue (they stay there)
  send                   Enqueue an outbound message on the outbound queue

Commands (local pipeline only):
  webhook <event>        Sign and POST an account_update webhook for a WABA
  webhook-file <path>    Sign and POST a JSON file exactly as it is
  cloud-api refuse       Make the embedded Cloud API stand-in refuse a number's sends, like an offboarded number
  cloud-api accept       Make it send for that number again
  cloud-api statuses     Make the stand-in send Meta's status webhooks for a number's accepted messages
  events tail            Print relay events as they are published (Ctrl-C stops)

${TARGET_HELP}

Other options:
  --secret <secret>    App secret used to sign webhooks (default $META_APP_SECRET, else the development value)
  -h, --help           Help for a command: npm run cli -- send --help

Exit codes: 0 done, 1 failed (the message says why), 2 wrong usage (the command's help follows).`,
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

--time defaults to now. Local pipeline only (signed with --secret). Example: npm run cli -- webhook offboard --waba 102290129340398`,
  'webhook-file': `Usage: npm run cli -- webhook-file <path.json> [--secret <secret>]

Signs the file's bytes with the app secret and POSTs them to the local pipeline's /webhook unchanged.`,
  send: `Usage: npm run cli -- send --waba <wabaId> --phone-number-id <id> --to <number> (--text <body> | --payload-file <path>)
                          [--message-id <id>] [--not-after <ISO-8601>] [target]

Enqueues the documented envelope on the outbound queue. --message-id defaults to a new UUID.

${TARGET_HELP}`,
  status: `Usage: npm run cli -- status <wabaId> [--json] [target]

Reads GET /clients/{wabaId} (against a stack: SigV4-signed with your AWS credentials) and prints the status, since
when and why, the messages waiting now (parked now, release draining) apart from the running totals since the
client was first seen, the client's health and the timeline. --json prints the route's JSON answer unchanged.

${TARGET_HELP}`,
  parked: `Usage: npm run cli -- parked <wabaId> [--max <n>] [target]

Lists the messages parked now for a client (their parked copies in the table), oldest first: the order a release
sends them in. --max (default 100) limits how many are printed; the count is always complete.

${TARGET_HELP}`,
  client: `Usage: npm run cli -- client reset <wabaId> [--reason <text>] [--json] [target]
       (also: npm run cli -- reset <wabaId> ...)

POSTs /clients/{wabaId}/reset: clears the client's status records (the latest event of each class), so it reads
CONNECTED as if never seen and later events apply normally. The timeline records the reset, who asked (locally
local-operator; against a stack, your IAM principal) and --reason. Use it to undo a status stored from a wrong
event (for example one stamped far in the future before event times were checked). The reset then asks for
a release of the client's parked messages; if that request cannot be queued they go at their next delay hop.

${TARGET_HELP}`,
  message: `Usage: npm run cli -- message <wabaId> <messageId> [target]

Prints GET /messages/{wabaId}/{messageId}: the message's outcome (parked, sent, delivered, read, failed,
dead-lettered), the wamid, the history with times and errors, the send claim and, for an envelope with a fallback,
the fallback's outcome.

${TARGET_HELP}`,
  'cloud-api': `Usage: npm run cli -- cloud-api refuse --phone-number-id <id> [--code <n>]
       npm run cli -- cloud-api accept --phone-number-id <id>
       npm run cli -- cloud-api statuses --phone-number-id <id> (--until sent|delivered|read | --fail <code> | --off) [--waba <wabaId>]

Tells the embedded Cloud API stand-in (npm start without GRAPH_API_BASE_URL) how a phone number behaves.
refuse  sends from the number fail with --code (default 133010, "may mean offboarded"); probes of it fail with 100/33
accept  the number sends and answers probes as a connected coexistence number (the default)
statuses  after each accepted message the stand-in posts Meta's status webhooks to the pipeline, signed: sent,
        delivered, read up to --until, or sent then failed with --fail (131047: the 24-hour window closed; templates
        still go through); --off stops them. The WABA is --waba, else the one in the relay's callback data`,
  'dead-letters': `Usage: npm run cli -- dead-letters list [filters] [--max <n>] [target]
       npm run cli -- dead-letters redrive [filters] [--max <n>] [--dry-run] [target]

list     prints each dead letter: reason, message id, WABA, when it was dead-lettered, detail (messages stay)
redrive  sends the envelope of each matching dead letter back to the outbound queue and removes the dead letter;
         invalid-envelope entries have no envelope to send and are left in place. --dry-run prints what would
         move and changes nothing.

Filters (all must match):
  --reason <reason>    ${DEAD_LETTER_REASONS.join(', ')}
  --waba <wabaId>      the client's WABA
  --older-than <age>   dead-lettered at least this long ago (e.g. 30s, 15m, 2h, 7d)
  --newer-than <age>   dead-lettered less than this long ago
--max (default 1000) bounds how many dead letters are read.

${TARGET_HELP}`,
  events: `Usage: npm run cli -- events tail [--type <type>] [--waba <wabaId>] [--max <n>] [--url <url>]

Long-polls the local queue subscribed to the relay-events topic (relay-events-tail) and prints one line per event:
  <time> <type> waba=<wabaId> [message=<id>] [wamid=<wamid>] <detail> id=<event id>
--type keeps one event type (${RELAY_EVENT_TYPES.join(', ')}),
--waba one client; --max stops after that many printed events. Ctrl-C stops. Events are taken off the tail queue as
they are read: run one tail at a time. Against a stack, subscribe a queue of your own (docs/relay-events.md).`,
  inbound: `Usage: npm run cli -- inbound tail [--max <n>] [--follow] [target]

Prints the events waiting on the inbound-events queue (every change of every webhook, forwarded for the partner
platform), one line each: received at, field, WABA, event, dedupe id. They stay on the queue. --follow keeps
printing new ones until Ctrl-C. --max (default 100) bounds how many are read per pass.

${TARGET_HELP}`,
};
HELP.reset = HELP.client as string;

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

const CLI_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  stage: { type: 'string' },
  stack: { type: 'string' },
  outputs: { type: 'string' },
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
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'older-than': { type: 'string' },
  'newer-than': { type: 'string' },
  follow: { type: 'boolean' },
  until: { type: 'string' },
  fail: { type: 'string' },
  off: { type: 'boolean' },
  type: { type: 'string' },
} as const;

type OptionName = keyof typeof CLI_OPTIONS;
const TARGET_OPTIONS: readonly OptionName[] = ['url', 'stage', 'stack', 'outputs'];

/** The options each command accepts (besides --help); any other is a usage error naming the command. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  webhook: ['url', 'secret', 'waba', 'time', 'reason'],
  'webhook-file': ['url', 'secret'],
  send: [...TARGET_OPTIONS, 'waba', 'phone-number-id', 'to', 'text', 'payload-file', 'message-id', 'not-after'],
  status: [...TARGET_OPTIONS, 'waba', 'json'],
  parked: [...TARGET_OPTIONS, 'waba', 'max'],
  client: [...TARGET_OPTIONS, 'waba', 'reason', 'json'],
  reset: [...TARGET_OPTIONS, 'waba', 'reason', 'json'],
  'cloud-api': ['url', 'phone-number-id', 'code', 'until', 'fail', 'off', 'waba'],
  message: [...TARGET_OPTIONS],
  'dead-letters': [...TARGET_OPTIONS, 'reason', 'waba', 'older-than', 'newer-than', 'max', 'dry-run'],
  inbound: [...TARGET_OPTIONS, 'max', 'follow'],
  events: ['url', 'type', 'waba', 'max'],
};

type Values = { -readonly [K in OptionName]?: (typeof CLI_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
interface Options extends Values {
  url: string;
  secret: string;
}

export interface CliIo {
  out(line: string): void;
  /** Errors (default: `out`). */
  err?(line: string): void;
  fetch: typeof fetch;
  /** Resolves when the user asks to stop (Ctrl-C); `--follow` ends then. */
  stopped?: Promise<void>;
}

interface Ctx {
  readonly o: Options;
  readonly io: CliIo;
  readonly env: Record<string, string | undefined>;
  target(): Promise<RelayTarget>;
}

const required = (o: Options, name: 'waba' | 'phone-number-id' | 'to' | 'text', command: string): string => {
  const v = o[name];
  if (!v) throw new UsageError(command, `--${name} is required`);
  return v;
};

const wabaArg = (args: readonly string[], o: Options, command: string): string => {
  const waba = args[0] ?? o.waba;
  if (!waba) throw new UsageError(command, 'which WABA? give its id');
  if (!isRelayId(waba)) throw new UsageError(command, `"${waba}" is not a WABA id: it ${ID_RULE}`);
  return waba;
};

const positiveInt = (value: string | undefined, fallback: number, command: string, name: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1) throw new UsageError(command, `--${name} must be a positive whole number`);
  return n;
};

const postSigned = async (ctx: Ctx, command: string, body: Buffer): Promise<void> => {
  const { o, io } = ctx;
  const r = await io
    .fetch(`${o.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, o.secret) },
      body,
    })
    .catch(() => {
      throw new CliError(`no pipeline answers at ${o.url}; start it with "npm start" or pass --url`);
    });
  const text = await r.text();
  io.out(`POST /webhook -> ${r.status} ${text}`);
  if (r.status !== 200) throw new CliError(`${command}: the webhook was refused with ${r.status}`);
};

const webhook = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const { o } = ctx;
  const name = args[0];
  if (!name) throw new UsageError('webhook', 'which event?');
  const known = EVENTS[name];
  if (!known && !/^[A-Z][A-Z0-9_]+$/.test(name)) throw new UsageError('webhook', `unknown event "${name}"`);
  const waba = required(o, 'waba', 'webhook');
  const time = o.time ?? String(Math.floor(Date.now() / 1000));
  if (!/^\d+$/.test(time)) throw new UsageError('webhook', '--time must be Unix seconds');
  const event = known?.event ?? name;
  const value: Record<string, unknown> = { event, ...(known?.extra?.(o) ?? {}) };
  let entryId = waba;
  if (known?.partner) {
    value.waba_info = { waba_id: waba, owner_business_id: 'local-owner' };
    entryId = 'local-partner-business';
  }
  const payload = { object: 'whatsapp_business_account', entry: [{ id: entryId, time: Number(time), changes: [{ field: 'account_update', value }] }] };
  await postSigned(ctx, 'webhook', Buffer.from(JSON.stringify(payload)));
};

const webhookFile = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const path = args[0];
  if (!path) throw new UsageError('webhook-file', 'which file?');
  const bytes = await readFile(path).catch((e: Error) => {
    throw new CliError(`webhook-file: cannot read ${path}: ${e.message}`);
  });
  await postSigned(ctx, 'webhook-file', bytes);
};

const send = async (ctx: Ctx): Promise<void> => {
  const { o, io } = ctx;
  const wabaId = required(o, 'waba', 'send');
  const phoneNumberId = required(o, 'phone-number-id', 'send');
  let payload: Record<string, unknown>;
  if (o['payload-file']) {
    try {
      payload = JSON.parse(await readFile(o['payload-file'], 'utf8'));
    } catch (error) {
      throw new CliError(`send: cannot read --payload-file: ${(error as Error).message}`);
    }
  } else {
    const to = required(o, 'to', 'send');
    const text = required(o, 'text', 'send');
    payload = { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body: text } };
  }
  if (o['not-after'] && Number.isNaN(Date.parse(o['not-after']))) throw new UsageError('send', '--not-after must be an ISO-8601 time');
  const envelope = {
    messageId: o['message-id'] ?? randomUUID(),
    wabaId,
    phoneNumberId,
    payload,
    ...(o['not-after'] ? { notAfter: o['not-after'] } : {}),
  };
  const target = await ctx.target();
  // Every non-ASCII character escaped: any SQS accepts the body whatever the text holds (emoji, U+FFFF, NUL).
  await (await target.sqs()).send(new SendMessageCommand({ QueueUrl: await target.queue('outbound'), MessageBody: toSqsJson(envelope) }));
  io.out(`enqueued ${envelope.messageId} for WABA ${wabaId}`);
};

/** What the status route answers, as far as the readable output reads it (the rest passes through with --json). */
const StatusView = z.looseObject({
  wabaId: z.string(),
  status: z.string(),
  since: z.string().nullable(),
  setBy: z.looseObject({ event: z.string(), eventTime: z.string().nullable() }).nullable(),
  firstSeenAt: z.string(),
  messages: z.looseObject({
    parked: z.number(),
    parkedNow: z.number(),
    sent: z.number(),
    deadLettered: z.number(),
    ambiguousResends: z.number(),
    oldestParkedAgeSeconds: z.number().nullable(),
  }),
  release: z
    .looseObject({
      draining: z.boolean(),
      last: z
        .looseObject({
          state: z.string(),
          trigger: z.string(),
          startedAt: z.string(),
          total: z.number(),
          sent: z.number(),
          deadLettered: z.number(),
          alreadySent: z.number(),
          left: z.number(),
          reason: z.string().nullable(),
        })
        .nullable(),
    })
    .optional(),
  health: z
    .looseObject({
      hold: z.looseObject({ state: z.string(), code: z.string(), why: z.string(), startedAt: z.string().nullable() }).nullable(),
      restrictions: z.array(z.looseObject({ type: z.string(), inForce: z.boolean() })),
    })
    .optional(),
  /** Only in a reset's answer: whether the reset asked for the client's parked messages to be released. */
  releaseRequested: z.boolean().optional(),
  timeline: z.array(
    z.looseObject({ event: z.string(), eventTime: z.string().nullable(), effect: z.string(), statusBefore: z.string(), statusAfter: z.string() }),
  ),
});

const age = (seconds: number): string =>
  seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : seconds < 172_800 ? `${Math.round(seconds / 3600)} h` : `${Math.round(seconds / 86_400)} days`;

/** The status in a few lines: what waits now is apart from the totals, which only grow. */
export const formatStatus = (view: z.infer<typeof StatusView>): string[] => {
  const m = view.messages;
  const lines = [
    `WABA ${view.wabaId}: ${view.status}${view.since ? ` since ${view.since}` : ' (no status event yet)'}${view.setBy ? ` (${view.setBy.event}, event time ${view.setBy.eventTime ?? 'unknown'})` : ''}`,
  ];
  const draining = view.release?.draining ? ', a release is sending them now' : '';
  lines.push(
    m.parkedNow === 0
      ? `waiting now: nothing parked${draining}`
      : `waiting now: ${m.parkedNow} parked message(s), the oldest for ${age(m.oldestParkedAgeSeconds ?? 0)}${draining} (npm run cli -- parked ${view.wabaId})`,
  );
  const last = view.release?.last;
  if (last) {
    lines.push(
      `last release: ${last.state} (${last.trigger}, started ${last.startedAt}): ${last.sent} of ${last.total} sent, ${last.deadLettered} dead-lettered, ${last.alreadySent} already sent, ${last.left} left${last.reason ? `; ${last.reason}` : ''}`,
    );
  }
  lines.push(
    `totals since ${view.firstSeenAt}: ${m.parked} parked, ${m.sent} sent, ${m.deadLettered} dead-lettered, ${m.ambiguousResends} ambiguous resend(s)`,
  );
  if (view.releaseRequested !== undefined) {
    lines.push(view.releaseRequested ? 'reset: a release of the parked messages was requested' : 'reset: no release could be requested (the release queue refused it); parked messages go at their next delay hop');
  }
  const hold = view.health?.hold;
  if (hold) lines.push(`hold: ${hold.state} since ${hold.startedAt ?? 'unknown'} (${hold.code}: ${hold.why})`);
  const restrictions = view.health?.restrictions.filter((r) => r.inForce) ?? [];
  if (restrictions.length > 0) lines.push(`restrictions in force: ${restrictions.map((r) => r.type).join(', ')}`);
  if (view.timeline.length > 0) {
    lines.push('timeline:');
    for (const e of view.timeline) {
      const change = e.statusBefore === e.statusAfter ? e.statusAfter : `${e.statusBefore} -> ${e.statusAfter}`;
      lines.push(`  ${e.eventTime ?? '(no time)'}  ${e.event}  ${e.effect}  ${change}`);
    }
  }
  return lines;
};

/** The status route's answer, or a one-line error (404: never seen; 400: the route's own message). */
const readAnswer = async (r: Response, command: string, waba: string): Promise<unknown> => {
  const text = await r.text();
  if (r.status === 404) throw new CliError(`${command}: no events received for WABA ${waba}`);
  if (r.status === 403) throw new CliError(`${command}: forbidden (${r.status}): the AWS principal may not call the status route`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (r.status !== 200) {
    const why = (body as { error?: unknown; message?: unknown } | undefined)?.error ?? (body as { message?: unknown } | undefined)?.message ?? text.slice(0, 200);
    throw new CliError(`${command}: the status route answered ${r.status}: ${String(why)}`);
  }
  if (body === undefined) throw new CliError(`${command}: the status route answered something other than JSON`);
  return body;
};

const printView = (ctx: Ctx, command: string, body: unknown): void => {
  if (ctx.o.json) {
    ctx.io.out(JSON.stringify(body, null, 2));
    return;
  }
  const view = StatusView.safeParse(body);
  if (!view.success) throw new CliError(`${command}: the status route's answer is not one this CLI reads; use --json`);
  for (const line of formatStatus(view.data)) ctx.io.out(line);
};

const status = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const waba = wabaArg(args, ctx.o, 'status');
  const target = await ctx.target();
  printView(ctx, 'status', await readAnswer(await target.api('GET', `/clients/${encodeURIComponent(waba)}`), 'status', waba));
};

const reset = async (command: string, args: readonly string[], ctx: Ctx): Promise<void> => {
  const waba = wabaArg(args, ctx.o, command);
  const target = await ctx.target();
  const r = await target.api('POST', `/clients/${encodeURIComponent(waba)}/reset`, JSON.stringify(ctx.o.reason ? { reason: ctx.o.reason } : {}));
  printView(ctx, command, await readAnswer(r, command, waba));
};

/** `message <wabaId> <messageId>`: GET /messages/{wabaId}/{messageId}, printed as JSON. */
const message = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const waba = wabaArg(args, ctx.o, 'message');
  const messageId = args[1];
  if (!messageId) throw new UsageError('message', 'which message? give the WABA id and the messageId');
  const target = await ctx.target();
  const r = await target.api('GET', `/messages/${encodeURIComponent(waba)}/${encodeURIComponent(messageId)}`);
  if (r.status === 404) throw new CliError(`message: no message ${messageId} known for WABA ${waba}`);
  ctx.io.out(JSON.stringify(await readAnswer(r, 'message', waba), null, 2));
};

const client = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  if (args[0] !== 'reset') throw new UsageError('client', args[0] ? `unknown client action "${args[0]}"` : 'which action? (reset)');
  await reset('client', args.slice(1), ctx);
};

const parked = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const waba = wabaArg(args, ctx.o, 'parked');
  const max = positiveInt(ctx.o.max, 100, 'parked', 'max');
  const target = await ctx.target();
  const store = new DynamoParkedStore(DynamoDBDocumentClient.from(await target.dynamo()), await target.tableName());
  const summary = await store.summary(waba);
  if (summary.count === 0) {
    ctx.io.out(`nothing parked now for WABA ${waba}`);
    return;
  }
  ctx.io.out(`${summary.count} message(s) parked now for WABA ${waba}, oldest first (the order a release sends them):`);
  let printed = 0;
  let cursor: string | undefined;
  while (printed < max) {
    const page = await store.list(waba, Math.min(100, max - printed), cursor);
    for (const item of page.items) {
      if (item.ok) {
        const c = item.copy;
        ctx.io.out(
          `  ${c.messageId}  parked since ${c.firstParkedAt}  from ${c.phoneNumberId} to ${c.recipient}  parks ${c.parkCount}, send attempts ${c.sendAttempts}`,
        );
      } else {
        ctx.io.out(`  (unreadable copy ${item.orderKey}: ${item.problem}; a release dead-letters it as invalid-envelope)`);
      }
      printed++;
    }
    if (!page.cursor || page.items.length === 0) break;
    cursor = page.cursor;
  }
  if (printed < summary.count) ctx.io.out(`  ... and ${summary.count - printed} more (--max)`);
};

const receiveAll = async (sqs: SQSClient, queueUrl: string, visibility: number, max: number): Promise<Message[]> => {
  const all: Message[] = [];
  while (all.length < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - all.length),
        VisibilityTimeout: visibility,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    if (!out.Messages?.length) break;
    all.push(...out.Messages);
  }
  return all;
};

/** Makes received messages visible again at once (SQS cannot peek: reading hides them for the visibility timeout). */
const putBack = async (sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> => {
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
};

const DURATION = /^(\d+)(s|m|h|d)$/;
const durationMs = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const m = DURATION.exec(value);
  if (!m) throw new UsageError('dead-letters', `--${name} must be a number and a unit: 30s, 15m, 2h or 7d`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
};

/** A dead letter as read back: what the filters and the output need. */
interface DeadLetterRow {
  readonly message: Message;
  readonly reason: string;
  readonly detail: string;
  readonly messageId: string;
  readonly wabaId: string | null;
  readonly at: string | null;
  /** The envelope to send back, or null (invalid-envelope, truncated or unreadable). */
  readonly envelope: Record<string, unknown> | null;
}

const DeadLetterJson = z.looseObject({
  reason: z.string().optional(),
  detail: z.string().optional(),
  deadLetteredAt: z.string().optional(),
  envelope: z.unknown().optional(),
});

const toRow = (m: Message): DeadLetterRow => {
  let raw: unknown;
  try {
    raw = JSON.parse(m.Body ?? '');
  } catch {
    raw = undefined;
  }
  const dl = DeadLetterJson.safeParse(raw);
  const sentAt = Number(m.Attributes?.SentTimestamp);
  const fallbackAt = Number.isFinite(sentAt) && sentAt > 0 ? new Date(sentAt).toISOString() : null;
  if (!dl.success) {
    return { message: m, reason: 'unknown', detail: 'not a dead-letter body', messageId: '(raw body)', wabaId: m.MessageAttributes?.wabaId?.StringValue ?? null, at: fallbackAt, envelope: null };
  }
  const env = dl.data.envelope;
  const envelope = env !== null && typeof env === 'object' && !Array.isArray(env) ? (env as Record<string, unknown>) : null;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    message: m,
    reason: dl.data.reason ?? 'unknown',
    detail: dl.data.detail ?? '',
    messageId: str(envelope?.messageId) ?? '(raw body)',
    wabaId: str(envelope?.wabaId) ?? m.MessageAttributes?.wabaId?.StringValue ?? null,
    at: dl.data.deadLetteredAt ?? fallbackAt,
    envelope,
  };
};

const deadLetters = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const { o, io } = ctx;
  const action = args[0];
  if (action !== 'list' && action !== 'redrive') throw new UsageError('dead-letters', action ? `unknown action "${action}": list or redrive` : 'list or redrive?');
  if (o['dry-run'] && action === 'list') throw new UsageError('dead-letters', '--dry-run applies to redrive (list never changes anything)');
  const max = positiveInt(o.max, 1000, 'dead-letters', 'max');
  if (o.reason !== undefined && !(DEAD_LETTER_REASONS as readonly string[]).includes(o.reason)) {
    throw new UsageError('dead-letters', `unknown --reason "${o.reason}"`);
  }
  if (o.waba !== undefined && !isRelayId(o.waba)) throw new UsageError('dead-letters', `--waba "${o.waba}" is not a WABA id: it ${ID_RULE}`);
  const olderThan = durationMs(o['older-than'], 'older-than');
  const newerThan = durationMs(o['newer-than'], 'newer-than');
  const now = Date.now();
  const matches = (row: DeadLetterRow): boolean => {
    if (o.reason !== undefined && row.reason !== o.reason) return false;
    if (o.waba !== undefined && row.wabaId !== o.waba) return false;
    const at = row.at === null ? Number.NaN : Date.parse(row.at);
    if (olderThan !== undefined && !(now - at >= olderThan)) return false;
    if (newerThan !== undefined && !(now - at < newerThan)) return false;
    return true;
  };
  const target = await ctx.target();
  const sqs = await target.sqs();
  const dlq = await target.queue('deadLetter');
  const moving = action === 'redrive' && !o['dry-run'];
  // Received (hidden) while collected; whatever is not moved is made visible again at once.
  const messages = await receiveAll(sqs, dlq, moving ? 120 : 30, max);
  const keep: Message[] = [];
  let matched = 0;
  let moved = 0;
  try {
    const outbound = moving ? await target.queue('outbound') : '';
    for (const m of messages) {
      const row = toRow(m);
      if (!matches(row)) {
        keep.push(m);
        continue;
      }
      matched++;
      if (action === 'list') {
        io.out(`${row.reason}\t${row.messageId}\t${row.wabaId ?? '-'}\t${row.at ?? '-'}\t${row.detail}`);
        keep.push(m);
        continue;
      }
      if (!row.envelope) {
        io.out(`kept ${row.messageId} (${row.reason}): no envelope to redrive (${row.detail})`);
        keep.push(m);
        continue;
      }
      if (!moving) {
        io.out(`would redrive ${row.messageId} (${row.reason}, WABA ${row.wabaId ?? '-'})`);
        keep.push(m);
        continue;
      }
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: outbound,
          MessageBody: toSqsJson(row.envelope),
          MessageAttributes: { [REDRIVEN_ATTRIBUTE]: { DataType: 'String', StringValue: row.reason } },
        }),
      );
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: dlq, Entries: [{ Id: '0', ReceiptHandle: m.ReceiptHandle }] }));
      moved++;
      io.out(`redriven ${row.messageId} (${row.reason})`);
    }
  } finally {
    await putBack(sqs, dlq, keep);
  }
  const filtered = messages.length - matched;
  const skipped = filtered > 0 ? ` (${filtered} other dead letter(s) did not match the filters)` : '';
  if (messages.length === 0) io.out(`the dead-letter queue of ${target.name} is empty`);
  else if (action === 'list') io.out(`${matched} dead letter(s) listed${skipped}`);
  else if (moving) io.out(`${moved} message(s) moved back to the outbound queue${skipped}`);
  else io.out(`dry run: nothing changed${skipped}`);
};

const InboundJson = z.looseObject({
  dedupeId: z.string().optional(),
  wabaId: z.string().nullable().optional(),
  field: z.string().optional(),
  receivedAt: z.string().optional(),
  value: z.unknown().optional(),
  problem: z.string().optional(),
});

const inboundLine = (m: Message): string => {
  let raw: unknown;
  try {
    raw = JSON.parse(m.Body ?? '');
  } catch {
    raw = undefined;
  }
  const e = InboundJson.safeParse(raw);
  if (!e.success) return `(not an inbound event: ${(m.Body ?? '').length} characters)`;
  const value = e.data.value as { event?: unknown } | undefined;
  const event = value && typeof value === 'object' && typeof value.event === 'string' ? value.event : '-';
  return [e.data.receivedAt ?? '-', e.data.field ?? '-', `WABA ${e.data.wabaId ?? '-'}`, event, e.data.dedupeId ?? '-', ...(e.data.problem ? [`problem: ${e.data.problem}`] : [])].join('  ');
};

const inbound = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const { o, io } = ctx;
  if (args[0] !== 'tail') throw new UsageError('inbound', args[0] ? `unknown action "${args[0]}": tail` : 'which action? (tail)');
  const max = positiveInt(o.max, 100, 'inbound', 'max');
  const target = await ctx.target();
  const sqs = await target.sqs();
  const queue = await target.queue('inboundEvents');
  const seen = new Set<string>();
  let stop = false;
  void ctx.io.stopped?.then(() => {
    stop = true;
  });
  do {
    const messages = await receiveAll(sqs, queue, 10, max);
    await putBack(sqs, queue, messages);
    for (const m of messages) {
      if (m.MessageId && seen.has(m.MessageId)) continue;
      if (m.MessageId) seen.add(m.MessageId);
      io.out(inboundLine(m));
    }
    if (!o.follow) {
      io.out(seen.size === 0 ? `no events waiting on the inbound-events queue of ${target.name}` : `${seen.size} event(s) waiting (left on the queue)`);
      return;
    }
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), ctx.io.stopped ?? new Promise(() => undefined)]);
  } while (!stop);
};

/** One line per relay event: when, what, whom, and the detail (a status change in words, anything else as JSON). */
export const formatRelayEvent = (e: RelayEvent): string => {
  const d = e.detail;
  const detail = e.type === 'client.status_changed' ? `${String(d.from)} -> ${String(d.to)} by ${String(d.event)}` : JSON.stringify(d).slice(0, 300);
  return [e.time, e.type, `waba=${e.wabaId}`, ...(e.messageId ? [`message=${e.messageId}`] : []), ...(e.wamid ? [`wamid=${e.wamid}`] : []), detail, `id=${e.id}`].join(' ');
};

/**
 * `events tail` (local pipeline): long-polls the relay-events tail queue, prints what matches --type / --waba and
 * deletes what it read (matching or not). Stops after --max printed events, or when the user stops it.
 */
const events = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const { o, io } = ctx;
  if (args[0] !== 'tail') throw new UsageError('events', args[0] ? `unknown action "${args[0]}": tail` : 'which action? (tail)');
  if (o.type !== undefined && !(RELAY_EVENT_TYPES as readonly string[]).includes(o.type)) {
    throw new UsageError('events', `unknown --type "${o.type}" (one of ${RELAY_EVENT_TYPES.join(', ')})`);
  }
  const max = o.max === undefined ? Number.POSITIVE_INFINITY : positiveInt(o.max, 1, 'events', 'max');
  const info = await (await ctx.target()).pipeline();
  const sqs = localSqs(info.sqsEndpoint);
  const stop = new AbortController();
  void io.stopped?.then(() => stop.abort());
  let printed = 0;
  try {
    while (printed < max && !stop.signal.aborted) {
      let messages: Message[];
      try {
        // Never more than --max still allows: every message received is printed or filtered out, then deleted.
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: info.relayEvents.tailQueue, MaxNumberOfMessages: Math.min(10, max - printed), WaitTimeSeconds: 5, VisibilityTimeout: 30 }),
          { abortSignal: stop.signal },
        );
        messages = out.Messages ?? [];
      } catch (error) {
        if (stop.signal.aborted) return;
        throw error;
      }
      for (const m of messages) {
        let event: RelayEvent;
        try {
          event = parseRelayEvent(m.Body ?? '');
        } catch (error) {
          io.out(`unreadable event: ${(error as Error).message}`);
          continue;
        }
        if ((o.type && event.type !== o.type) || (o.waba && event.wabaId !== o.waba)) continue;
        io.out(formatRelayEvent(event));
        printed++;
      }
      if (messages.length > 0) {
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: info.relayEvents.tailQueue, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      }
    }
  } finally {
    sqs.destroy();
  }
};


/** `cloud-api statuses --phone-number-id <id> (--until <status> | --fail <code> | --off)`: the stand-in's status webhooks. */
const cloudApiStatuses = async (ctx: Ctx, phoneNumberId: string): Promise<void> => {
  const { o, io } = ctx;
  if ([o.until !== undefined, o.fail !== undefined, o.off === true].filter(Boolean).length !== 1) {
    throw new UsageError('cloud-api', 'statuses: give one of --until sent|delivered|read, --fail <code>, --off');
  }
  const fail = o.fail === undefined ? undefined : Number(o.fail);
  if (fail !== undefined && !(Number.isInteger(fail) && fail > 0)) throw new UsageError('cloud-api', '--fail must be a positive integer');
  const steps = ['sent', 'delivered', 'read'];
  if (o.until !== undefined && !steps.includes(o.until)) throw new UsageError('cloud-api', '--until must be sent, delivered or read');
  const waba = o.waba ? { wabaId: o.waba } : {};
  const plan = o.off ? null : fail !== undefined ? { fail, ...waba } : { until: o.until, ...waba };
  const info = await (await ctx.target()).pipeline();
  if (!info.cloudApiEmbedded) throw new CliError(`cloud-api: the pipeline uses ${info.cloudApiUrl}, not the embedded stand-in`);
  const r = await io.fetch(`${info.cloudApiUrl}/_stand-in/numbers/${encodeURIComponent(phoneNumberId)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ statuses: plan }),
  });
  const body = await r.text();
  if (r.status !== 200) throw new CliError(`cloud-api: the stand-in refused: ${r.status} ${body}`);
  io.out(
    plan === null
      ? `cloud-api stand-in: no status webhooks for ${phoneNumberId}`
      : `cloud-api stand-in: messages from ${phoneNumberId} get status webhooks: ${'fail' in plan ? `sent, then failed with ${plan.fail}` : steps.slice(0, steps.indexOf(o.until as string) + 1).join(', ')}`,
  );
};

/** `cloud-api refuse|accept|statuses --phone-number-id <id> ...`: tells the embedded stand-in how a number behaves. */
const cloudApi = async (args: readonly string[], ctx: Ctx): Promise<void> => {
  const { o, io } = ctx;
  const action = args[0];
  if (action !== 'refuse' && action !== 'accept' && action !== 'statuses') {
    throw new UsageError('cloud-api', action ? `unknown action "${action}": refuse, accept or statuses` : 'refuse, accept or statuses?');
  }
  const phoneNumberId = o['phone-number-id'];
  if (!phoneNumberId) throw new UsageError('cloud-api', '--phone-number-id is required');
  if (action === 'statuses') return cloudApiStatuses(ctx, phoneNumberId);
  const code = o.code === undefined ? undefined : Number(o.code);
  if (code !== undefined && !(Number.isInteger(code) && code > 0)) throw new UsageError('cloud-api', '--code must be a positive integer');
  const info = await (await ctx.target()).pipeline();
  if (!info.cloudApiEmbedded) throw new CliError(`cloud-api: the pipeline uses ${info.cloudApiUrl}, not the embedded stand-in`);
  const r = await io.fetch(`${info.cloudApiUrl}/_stand-in/numbers/${encodeURIComponent(phoneNumberId)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(action === 'refuse' ? { refuse: true, ...(code !== undefined ? { code } : {}) } : { refuse: false }),
  });
  const body = await r.text();
  if (r.status !== 200) throw new CliError(`cloud-api: the stand-in refused: ${r.status} ${body}`);
  const refusing = (JSON.parse(body) as { refusing: { code: number } | null }).refusing;
  io.out(
    refusing
      ? `cloud-api stand-in: sends from ${phoneNumberId} are refused with code ${refusing.code}; probes of it fail with 100/33`
      : `cloud-api stand-in: ${phoneNumberId} sends and answers probes as a connected number`,
  );
};

const COMMANDS: Record<string, (args: readonly string[], ctx: Ctx) => Promise<void>> = {
  webhook,
  'webhook-file': webhookFile,
  send: (_args, ctx) => send(ctx),
  status,
  parked,
  client,
  reset: (args, ctx) => reset('reset', args, ctx),
  'dead-letters': deadLetters,
  inbound,
  'cloud-api': cloudApi,
  message,
  events,
};

/** Node's parser messages, in one line without its advice about `--` (which never applies here). */
const parseProblem = (error: unknown): string => {
  const e = error as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(e.message ?? '')?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(e.message ?? '') ? `${option} takes no value` : `${option} needs a value`;
    default:
      return e.message?.split('. ')[0] ?? 'cannot read the command line';
  }
};

/** The command word of an argv the strict parser refused (the first word that is not an option or its value). */
const commandOf = (argv: readonly string[]): string | undefined => {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return argv[i + 1];
    if (a.startsWith('-')) {
      const name = a.replace(/^--?/, '').split('=')[0] as string;
      const spec = (CLI_OPTIONS as Record<string, { type: string }>)[name];
      if (spec?.type === 'string' && !a.includes('=')) i++;
      continue;
    }
    return a;
  }
  return undefined;
};

const usage = (io: CliIo, command: string | undefined, message: string): number => {
  const err = io.err ?? io.out;
  const help = (command && HELP[command]) || HELP.main;
  err(`error: ${message}\n\n${help}`);
  return 2;
};

export const runCli = async (argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof CLI_OPTIONS }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: CLI_OPTIONS });
  } catch (error) {
    const command = commandOf(argv);
    return usage(io, command && COMMANDS[command] ? command : undefined, `${command && COMMANDS[command] ? `${command}: ` : ''}${parseProblem(error)}`);
  }
  const [command, ...rest] = parsed.positionals;
  if (!command) {
    io.out(HELP.main as string);
    return parsed.values.help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) return usage(io, undefined, `unknown command "${command}"`);
  if (parsed.values.help) {
    io.out(HELP[command] as string);
    return 0;
  }
  const allowed = COMMAND_OPTIONS[command] ?? [];
  const extra = (Object.keys(parsed.values) as OptionName[]).filter((k) => k !== 'help' && !allowed.includes(k));
  const first = extra[0];
  if (first !== undefined) {
    const why = TARGET_OPTIONS.includes(first) ? ': it drives the local pipeline only (against a stack, Meta sends the webhooks and the Cloud API is real)' : '';
    return usage(io, command, `${command}: --${first} does not apply to ${command}${why}`);
  }
  const o: Options = {
    ...parsed.values,
    url: (parsed.values.url ?? `http://127.0.0.1:${env.PORT || LOCAL_DEFAULTS.PORT}`).replace(/\/+$/, ''),
    secret: parsed.values.secret ?? (env.META_APP_SECRET?.split(',')[0]?.trim() || DEV_SECRETS.META_APP_SECRET),
  };
  let target: Promise<RelayTarget> | undefined;
  const ctx: Ctx = {
    o,
    io,
    env,
    target: () => {
      target ??= resolveTarget({ url: o.url, stage: o.stage, stack: o.stack, outputs: o.outputs }, env, io.fetch);
      return target;
    },
  };
  try {
    await run(rest, ctx);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usage(io, error.command, `${error.command}: ${error.message}`);
    const message = error instanceof CliError ? error.message : `${command}: ${(error as Error).message}`;
    (io.err ?? io.out)(`error: ${message}`);
    return 1;
  } finally {
    if (target) await target.then((t) => t.destroy()).catch(() => undefined);
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const stopped = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  process.exitCode = await runCli(process.argv.slice(2), process.env, {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    fetch,
    stopped,
  });
  process.exit();
}
