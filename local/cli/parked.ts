/** `parked <wabaId>`: the client's parked copies in the table, in the order a release sends them. */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoParkedStore } from '../../lambdas/adapters/dynamo/release-stores.js';
import { type Command, positiveInt, wabaArg } from './context.js';

export const parked: Command = async (args, ctx) => {
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
