/**
 * `send`: enqueue an outbound envelope on the outbound queue (local pipeline or stack). Built from the flags (with
 * `--fallback-file` for the envelope's `fallback`) or read whole from `--envelope-file`; either way it is checked by
 * the consumer's own rules (`parseEnvelope`) before anything is enqueued, so what the CLI accepts is never
 * dead-lettered `invalid-envelope`.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { type OutboundEnvelope, outboundEnvelopeSchema, parseEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { toSqsJson } from '../../lambdas/core/shared/sqs-body.js';
import { type Ctx, type Command, type OptionName, optionalId, required } from './context.js';
import { CliError, UsageError } from './errors.js';
import { readJsonFile } from './json.js';

/** A Cloud API request body as a file holds it: a JSON object (the envelope's rules check the rest). */
const JsonObject = z.record(z.string(), z.unknown());
const REQUEST_BODY = 'not a JSON object (a Cloud API request body)';

/** The flags that build an envelope; `--envelope-file` is the whole envelope, so it takes none of them. */
const ENVELOPE_FLAGS: readonly OptionName[] = ['waba', 'phone-number-id', 'to', 'text', 'payload-file', 'fallback-file', 'message-id', 'not-after'];

const fromFlags = async (ctx: Ctx): Promise<Record<string, unknown>> => {
  const { o } = ctx;
  const wabaId = required(o, 'waba', 'send');
  const phoneNumberId = required(o, 'phone-number-id', 'send');
  const messageId = optionalId(o, 'message-id', 'send') ?? randomUUID();
  if (o['not-after'] && Number.isNaN(Date.parse(o['not-after']))) throw new UsageError('send', '--not-after must be an ISO-8601 time');
  let payload: Record<string, unknown>;
  if (o['payload-file']) {
    payload = await readJsonFile(o['payload-file'], JsonObject, 'send: --payload-file', REQUEST_BODY);
  } else {
    const to = required(o, 'to', 'send');
    const text = required(o, 'text', 'send');
    payload = { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body: text } };
  }
  const fallback = o['fallback-file'] ? await readJsonFile(o['fallback-file'], JsonObject, 'send: --fallback-file', REQUEST_BODY) : undefined;
  return { messageId, wabaId, phoneNumberId, payload, ...(o['not-after'] ? { notAfter: o['not-after'] } : {}), ...(fallback ? { fallback } : {}) };
};

const fromFile = async (ctx: Ctx, path: string): Promise<Record<string, unknown>> => {
  const extra = ENVELOPE_FLAGS.find((f) => ctx.o[f] !== undefined);
  if (extra) throw new UsageError('send', `--envelope-file is the whole envelope: give --${extra} in the file, not as a flag`);
  return readJsonFile(path, outboundEnvelopeSchema, 'send: --envelope-file');
};

export const send: Command = async (_args, ctx) => {
  const file = ctx.o['envelope-file'];
  const candidate = file === undefined ? await fromFlags(ctx) : await fromFile(ctx, file);
  // Every non-ASCII character escaped: any SQS accepts the body whatever the text holds (emoji, U+FFFF, NUL).
  const body = toSqsJson(candidate);
  // The consumer's own reading of the body (size included): refused here rather than dead-lettered there.
  const parsed = parseEnvelope(body);
  if (!parsed.ok) throw new CliError(`send: nothing enqueued: the consumer would dead-letter this envelope invalid-envelope (${parsed.problem})`);
  const envelope: OutboundEnvelope = parsed.envelope;
  const target = await ctx.target();
  await (await target.sqs()).send(new SendMessageCommand({ QueueUrl: await target.queue('outbound'), MessageBody: body }));
  ctx.io.out(`enqueued ${envelope.messageId} for WABA ${envelope.wabaId}${envelope.fallback ? ' (with a fallback)' : ''}`);
};
