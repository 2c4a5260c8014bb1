/** `send`: enqueue an outbound envelope on the outbound queue (local pipeline or stack). */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { toSqsJson } from '../../lambdas/core/sqs-body.js';
import { type Command, required } from './context.js';
import { UsageError } from './errors.js';
import { readJsonFile } from './json.js';

/** A Cloud API request body as a file holds it: a JSON object (the envelope's rules check the rest). */
const JsonObject = z.record(z.string(), z.unknown());

export const send: Command = async (_args, ctx) => {
  const { o, io } = ctx;
  const wabaId = required(o, 'waba', 'send');
  const phoneNumberId = required(o, 'phone-number-id', 'send');
  let payload: Record<string, unknown>;
  if (o['payload-file']) {
    payload = await readJsonFile(o['payload-file'], JsonObject, 'send: --payload-file', 'not a JSON object (a Cloud API request body)');
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
