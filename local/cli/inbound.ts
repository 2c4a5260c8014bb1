/** `inbound tail`: the events waiting on the inbound-events queue, left where they are. */
import type { Message } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { type Command, positiveInt, unknownWord } from './context.js';
import { UsageError } from './errors.js';
import { checkJson } from './json.js';
import { putBack, receiveAll } from './sqs.js';

const InboundJson = z.looseObject({
  dedupeId: z.string().optional(),
  wabaId: z.string().nullable().optional(),
  field: z.string().optional(),
  receivedAt: z.string().optional(),
  value: z.unknown().optional(),
  problem: z.string().optional(),
});

const inboundLine = (m: Message): string => {
  const e = checkJson(m.Body ?? '', InboundJson);
  if (!e.ok) return `(not an inbound event: ${(m.Body ?? '').length} characters)`;
  const value = e.value.value as { event?: unknown } | undefined;
  const event = value && typeof value === 'object' && typeof value.event === 'string' ? value.event : '-';
  return [e.value.receivedAt ?? '-', e.value.field ?? '-', `WABA ${e.value.wabaId ?? '-'}`, event, e.value.dedupeId ?? '-', ...(e.value.problem ? [`problem: ${e.value.problem}`] : [])].join('  ');
};

export const inbound: Command = async (args, ctx) => {
  const { o, io } = ctx;
  if (args[0] !== 'tail') throw args[0] ? unknownWord('inbound', `unknown action "${args[0]}": tail`, args[0], ['tail']) : new UsageError('inbound', 'which action? (tail)');
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

