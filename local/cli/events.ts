/** `events tail` (local pipeline): the relay events published to the local topic, as they come. */
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { parseRelayEvent } from '../../lambdas/core/outcomes/relay-event-schema.js';
import { RELAY_EVENT_TYPES, type RelayEvent } from '../../lambdas/core/outcomes/relay-events.js';
import { localSqs } from '../services.js';
import { type Command, optionalId, positiveInt, unknownWord } from './context.js';
import { UsageError } from './errors.js';

/** One line per relay event: when, what, whom, and the detail (a status change in words, anything else as JSON). */
const formatRelayEvent = (e: RelayEvent): string => {
  const d = e.detail;
  const detail = e.type === 'client.status_changed' ? `${String(d.from)} -> ${String(d.to)} by ${String(d.event)}` : JSON.stringify(d).slice(0, 300);
  return [e.time, e.type, `waba=${e.wabaId}`, ...(e.messageId ? [`message=${e.messageId}`] : []), ...(e.wamid ? [`wamid=${e.wamid}`] : []), detail, `id=${e.id}`].join(' ');
};

/**
 * `events tail` (local pipeline): long-polls the relay-events tail queue, prints what matches --type / --waba and
 * deletes what it read (matching or not). Stops after --max printed events, or when the user stops it.
 */
export const events: Command = async (args, ctx) => {
  const { o, io } = ctx;
  if (args[0] !== 'tail') throw args[0] ? unknownWord('events', `unknown action "${args[0]}": tail`, args[0], ['tail']) : new UsageError('events', 'which action? (tail)');
  if (o.type !== undefined && !(RELAY_EVENT_TYPES as readonly string[]).includes(o.type)) {
    throw new UsageError('events', `unknown --type "${o.type}" (one of ${RELAY_EVENT_TYPES.join(', ')})`);
  }
  optionalId(o, 'waba', 'events');
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


