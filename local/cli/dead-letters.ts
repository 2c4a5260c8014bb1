/** `dead-letters list|redrive`: read the dead-letter queue with filters, and send envelopes back to the outbound queue. */
import { DeleteMessageBatchCommand, type Message, SendMessageCommand } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { DEAD_LETTER_REASONS } from '../../lambdas/core/outbound/outbound-decision.js';
import { toSqsJson } from '../../lambdas/core/shared/sqs-body.js';
import { REDRIVEN_ATTRIBUTE } from '../sqs-observer.js';
import { REDRIVE_ATTRIBUTE } from '../../lambdas/core/outbound/outbound-decision.js';
import { type Command, optionalId, positiveInt, unknownWord } from './context.js';
import { UsageError } from './errors.js';
import { checkJson } from './json.js';
import { putBack, receiveAll } from './sqs.js';

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
  /** The dead letter's `deadLetteredAt` as the relay wrote it: what a redrive names. */
  readonly deadLetteredAt: string | null;
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
  const dl = checkJson(m.Body ?? '', DeadLetterJson);
  const sentAt = Number(m.Attributes?.SentTimestamp);
  const fallbackAt = Number.isFinite(sentAt) && sentAt > 0 ? new Date(sentAt).toISOString() : null;
  if (!dl.ok) {
    return { message: m, reason: 'unknown', detail: 'not a dead-letter body', messageId: '(raw body)', wabaId: m.MessageAttributes?.wabaId?.StringValue ?? null, at: fallbackAt, deadLetteredAt: null, envelope: null };
  }
  const env = dl.value.envelope;
  const envelope = env !== null && typeof env === 'object' && !Array.isArray(env) ? (env as Record<string, unknown>) : null;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    message: m,
    reason: dl.value.reason ?? 'unknown',
    detail: dl.value.detail ?? '',
    messageId: str(envelope?.messageId) ?? '(raw body)',
    wabaId: str(envelope?.wabaId) ?? m.MessageAttributes?.wabaId?.StringValue ?? null,
    at: dl.value.deadLetteredAt ?? fallbackAt,
    deadLetteredAt: dl.value.deadLetteredAt ?? null,
    envelope,
  };
};

export const deadLetters: Command = async (args, ctx) => {
  const { o, io } = ctx;
  const action = args[0];
  if (action !== 'list' && action !== 'redrive') {
    throw action ? unknownWord('dead-letters', `unknown action "${action}": list or redrive`, action, ['list', 'redrive']) : new UsageError('dead-letters', 'list or redrive?');
  }
  if (o['dry-run'] && action === 'list') throw new UsageError('dead-letters', '--dry-run applies to redrive (list never changes anything)');
  const max = positiveInt(o.max, 1000, 'dead-letters', 'max');
  if (o.reason !== undefined && !(DEAD_LETTER_REASONS as readonly string[]).includes(o.reason)) {
    throw new UsageError('dead-letters', `unknown --reason "${o.reason}"`);
  }
  optionalId(o, 'waba', 'dead-letters');
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
          MessageAttributes: {
            [REDRIVEN_ATTRIBUTE]: { DataType: 'String', StringValue: row.reason },
            // The dead letter's own time: the relay reopens this message's DEAD_LETTERED entry for it, and for it only.
            ...(row.deadLetteredAt ? { [REDRIVE_ATTRIBUTE]: { DataType: 'String', StringValue: row.deadLetteredAt } } : {}),
          },
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

