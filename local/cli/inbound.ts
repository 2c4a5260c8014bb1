/** `inbound tail`: the events waiting on the inbound-events queue, left where they are. */
import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Message } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { type Command, positiveInt, unknownWord } from './context.js';
import { UsageError } from './errors.js';
import { checkJson } from './json.js';
import { putBack, receiveAll } from './sqs.js';

/** `valueRef`: where a change too large for one SQS message was stored whole (docs/webhooks.md). */
const ValueRefJson = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
type ValueRef = z.infer<typeof ValueRefJson>;

const InboundJson = z.looseObject({
  dedupeId: z.string().optional(),
  wabaId: z.string().nullable().optional(),
  field: z.string().optional(),
  receivedAt: z.string().optional(),
  value: z.unknown().optional(),
  valueRef: ValueRefJson.optional(),
  problem: z.string().optional(),
});
type Inbound = z.infer<typeof InboundJson>;

const line = (e: Inbound, value: unknown, extra: readonly string[] = []): string => {
  const v = value as { event?: unknown } | undefined;
  const event = v && typeof v === 'object' && typeof v.event === 'string' ? v.event : '-';
  return [e.receivedAt ?? '-', e.field ?? '-', `WABA ${e.wabaId ?? '-'}`, event, e.dedupeId ?? '-', ...(e.problem ? [`problem: ${e.problem}`] : []), ...extra].join('  ');
};

/** The stored value a `valueRef` points at, checked against its bytes and SHA-256; or what is wrong with it. */
const follow = async (s3: S3Client, ref: ValueRef): Promise<{ readonly value: unknown } | { readonly problem: string }> => {
  const where = `s3://${ref.bucket}/${ref.key}`;
  let bytes: Buffer;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return { problem: `valueRef ${where}: object missing (expired by the bucket's lifecycle, or never stored)` };
    if (name === 'NoSuchBucket') return { problem: `valueRef ${where}: no bucket ${ref.bucket}` };
    return { problem: `valueRef ${where}: cannot read it (${name}: ${(error as Error).message})` };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== ref.sha256) return { problem: `valueRef ${where}: sha256 differs (object ${sha256}, ${bytes.length} bytes; message ${ref.sha256}, ${ref.bytes} bytes)` };
  if (bytes.length !== ref.bytes) return { problem: `valueRef ${where}: ${bytes.length} bytes, the message says ${ref.bytes}` };
  try {
    return { value: JSON.parse(bytes.toString('utf8')) };
  } catch (error) {
    return { problem: `valueRef ${where}: not JSON (${(error as Error).message})` };
  }
};

const inboundLine = async (m: Message, s3: () => Promise<S3Client>): Promise<string> => {
  const e = checkJson(m.Body ?? '', InboundJson);
  if (!e.ok) return `(not an inbound event: ${(m.Body ?? '').length} characters)`;
  const ref = e.value.valueRef;
  if (!ref) return line(e.value, e.value.value);
  const got = await follow(await s3(), ref);
  return 'problem' in got ? line(e.value, undefined, [got.problem]) : line(e.value, got.value, [`(${ref.bytes} bytes from s3://${ref.bucket}/${ref.key}, sha256 checked)`]);
};

export const inbound: Command = async (args, ctx) => {
  const { o, io } = ctx;
  if (args[0] !== 'tail') throw args[0] ? unknownWord('inbound', `unknown action "${args[0]}": tail`, args[0], ['tail']) : new UsageError('inbound', 'which action? (tail)');
  const max = positiveInt(o.max, 100, 'inbound', 'max');
  const target = await ctx.target();
  const sqs = await target.sqs();
  const queue = await target.queue('inboundEvents');
  let s3: Promise<S3Client> | undefined;
  const s3Client = () => (s3 ??= target.s3());
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
      io.out(await inboundLine(m, s3Client));
    }
    if (!o.follow) {
      io.out(seen.size === 0 ? `no events waiting on the inbound-events queue of ${target.name}` : `${seen.size} event(s) waiting (left on the queue)`);
      return;
    }
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), ctx.io.stopped ?? new Promise(() => undefined)]);
  } while (!stop);
};
