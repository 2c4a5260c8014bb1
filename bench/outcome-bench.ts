import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoClientStore, documentClient } from '../lambdas/adapters/dynamo/client-store.js';
import { DynamoMessageOutcomeStore } from '../lambdas/adapters/dynamo/message-outcome-store.js';
import { DynamoSendLedger } from '../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoPhoneOwnership } from '../lambdas/adapters/dynamo/phone-ownership.js';
import { encodeCallbackData } from '../lambdas/core/outcomes/message-outcome.js';
import { MessageOutcomeService } from '../lambdas/core/outcomes/message-outcome-service.js';
import { noRelayEvents } from '../lambdas/core/outcomes/ports.js';
import { silentTelemetry } from '../lambdas/core/shared/telemetry.js';
import { signBody } from '../lambdas/core/webhook/signature.js';
import { createWebhookHandler } from '../lambdas/webhook/handler.js';
import { ensureTable } from '../local/services.js';
import { benchEvent } from './events.js';

const SECRET = 'bench-app-secret';
const WABA = '1029384756';

export interface OutcomeBenchResult {
  readonly scenario: string;
  readonly statuses: number;
  /** DynamoDB read requests per status (GetItem, BatchGetItem, Query). */
  readonly readsPerStatus: number;
  /** Writes to message outcome items per status. */
  readonly outcomeWritesPerStatus: number;
  /** Every DynamoDB write per status, with the phone number owner sighting each `messages` change records. */
  readonly writesPerStatus: number;
}

type Next = (args: { input: unknown }) => Promise<unknown>;

/** Counts DynamoDB requests by kind, and writes to outcome items (key `WABA#...`) apart (an SDK middleware). */
const counter = (client: DynamoDBClient) => {
  const c = { reads: 0, writes: 0, outcomeWrites: 0 };
  const stack = client.middlewareStack as unknown as {
    add(mw: (next: Next, context: { commandName?: string }) => Next, options: { step: 'initialize'; name: string }): void;
  };
  stack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? '');
      if (['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand'].includes(name)) c.reads++;
      if (['PutItemCommand', 'UpdateItemCommand', 'BatchWriteItemCommand', 'DeleteItemCommand'].includes(name)) {
        c.writes++;
        const pk = (args.input as { Key?: { pk?: string | { S?: string } } }).Key?.pk;
        if ((typeof pk === 'string' ? pk : pk?.S)?.startsWith('WABA#')) c.outcomeWrites++;
      }
      return next(args);
    },
    { step: 'initialize', name: `outcomeCounter-${randomUUID()}` },
  );
  return c;
};

const statusBody = (items: readonly { wamid: string; messageId: string; status: string; own: boolean }[], t: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550001111', phone_number_id: '555001' },
                statuses: items.map((s) => ({
                  id: s.wamid,
                  status: s.status,
                  timestamp: String(t),
                  recipient_id: '15551234567',
                  biz_opaque_callback_data: s.own ? `crm-${s.messageId}` : encodeCallbackData({ wabaId: WABA, messageId: s.messageId }),
                  conversation: { id: 'c1', origin: { type: 'utility' } },
                  pricing: { billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' },
                })),
              },
            },
          ],
        },
      ],
    }),
  );

/**
 * DynamoDB requests per status webhook status through the real webhook handler and stores on DynamoDB Local: each
 * message gets `sent`, `delivered` and `read`, one status per POST or ten per POST, with the relay's callback data or
 * with the sender's own (then found by the wamid item written at send time).
 */
export const outcomeBench = async (dynamo: DynamoDBClient, messages: number): Promise<OutcomeBenchResult[]> => {
  const tableName = `bench-outcomes-${randomUUID().slice(0, 8)}`;
  await ensureTable(dynamo, tableName, { stream: false });
  const doc = documentClient(dynamo);
  const outcomes = new DynamoMessageOutcomeStore(doc, tableName, 15);
  const handler = createWebhookHandler({
    store: new DynamoClientStore(doc, tableName),
    phones: new DynamoPhoneOwnership(doc, tableName),
    outcomes: new MessageOutcomeService({ store: outcomes, events: noRelayEvents, telemetry: silentTelemetry }),
    inbound: { forward: async () => undefined },
    releases: { requestRelease: async () => undefined },
    telemetry: silentTelemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'bench' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 30,
  });
  const ledger = new DynamoSendLedger(doc, tableName, 60_000, 1);
  const count = counter(dynamo);
  const results: OutcomeBenchResult[] = [];
  const run = async (scenario: string, own: boolean, perPost: number) => {
    const ids = Array.from({ length: messages }, (_, i) => ({ messageId: `${scenario.length}-${perPost}-${own}-${i}`, wamid: `wamid.${randomUUID()}` }));
    for (const m of ids) {
      // As the send path leaves it: the ledger's claim settled SENT with the wamid, and the wamid item when the sender
      // set its own callback data.
      const key = { wabaId: WABA, messageId: m.messageId };
      const claim = await ledger.claim(key, Date.now());
      if (claim.outcome !== 'claimed') throw new Error(`bench message ${m.messageId} not claimable`);
      await ledger.markSent(key, claim.token, m.wamid, Date.now());
      if (own) await outcomes.recordSend(key, { wamid: m.wamid, rememberWamid: true }, Date.now());
    }
    const statuses = ids.flatMap((m) => ['sent', 'delivered', 'read'].map((status) => ({ ...m, status, own })));
    Object.assign(count, { reads: 0, writes: 0, outcomeWrites: 0 });
    const t = Math.floor(Date.now() / 1000);
    for (let i = 0; i < statuses.length; i += perPost) {
      const body = statusBody(statuses.slice(i, i + perPost), t + i);
      const r = await handler(benchEvent(body, signBody(body, SECRET)));
      if (r.statusCode !== 200) throw new Error(`status webhook answered ${r.statusCode}`);
    }
    const n = statuses.length;
    const round = (x: number) => Math.round((x / n) * 100) / 100;
    results.push({ scenario, statuses: n, readsPerStatus: round(count.reads), outcomeWritesPerStatus: round(count.outcomeWrites), writesPerStatus: round(count.writes) });
  };
  await run("1 status per POST, relay's callback data", false, 1);
  await run("1 status per POST, sender's own callback data", true, 1);
  await run("10 statuses per POST, relay's callback data", false, 10);
  await run("10 statuses per POST, sender's own callback data", true, 10);
  return results;
};
