import { MemoryClientStore } from '../test/support/memory-client-store.js';
import type { ClientStore } from '../lambdas/core/status/ports.js';
import type { InboundEvent, InboundEventSink } from '../lambdas/core/webhook/ports.js';
import { silentTelemetry } from '../lambdas/core/shared/telemetry.js';
import { HmacSha256, signBody } from '../lambdas/core/webhook/signature.js';
import { createWebhookHandler } from '../lambdas/webhook/handler.js';
import { timePair } from './measure.js';
import { benchEvent } from './events.js';

const SECRET = 'bench-app-secret';

/** A ~1 KB body with one account_update change (the common case). */
export const smallBody = (i: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: `10229012934${i}`,
          time: 1768477204 + i,
          changes: [
            {
              field: 'account_update',
              value: {
                event: i % 2 === 0 ? 'ACCOUNT_OFFBOARDED' : 'ACCOUNT_RECONNECTED',
                phone_number: '15550783881',
                waba_info: { waba_id: `10229012934${i}`, owner_business_id: '1234567890', partner_app_id: '987654321' },
                note: 'x'.repeat(640),
              },
            },
          ],
        },
      ],
    }),
  );

/** A ~3 MB body with 1000 changes: 100 entries of 10 account_update changes, each padded to ~3 KB. */
export const largeBody = (i: number, changes = 1000): Buffer => {
  const perEntry = 10;
  return Buffer.from(
    JSON.stringify({
      object: 'whatsapp_business_account',
      entry: Array.from({ length: Math.ceil(changes / perEntry) }, (_, e) => ({
        id: `9${i}${e}`.padEnd(15, '0'),
        time: 1768477204 + i * 10_000 + e,
        changes: Array.from({ length: perEntry }, (_, c) => ({
          field: 'account_update',
          value: { event: c % 2 === 0 ? 'ACCOUNT_OFFBOARDED' : 'ACCOUNT_RESTRICTION', seq: c, padding: 'p'.repeat(2_950) },
        })),
      })),
    }),
  );
};

const memorySink: InboundEventSink = { forward: async (_e: readonly InboundEvent[]) => undefined };

export interface WebhookCase {
  readonly name: string;
  readonly bytes: number;
  readonly handlerMicros: number;
  readonly floorMicros: number;
  readonly ratio: number;
}

/**
 * In-process cost of one POST /webhook through the real handler, next to the floor for the same bytes
 * (HMAC-SHA256 + JSON.parse alone). Distinct pre-signed bodies, so every request carries new events.
 */
export const webhookCase = async (
  name: string,
  bodies: readonly Buffer[],
  store: ClientStore,
  iterations: number,
  inbound: InboundEventSink = memorySink,
): Promise<WebhookCase> => {
  const handler = createWebhookHandler({
    store,
    inbound,
    releases: { requestRelease: async () => undefined },
    telemetry: silentTelemetry,
    secrets: async () => ({ appSecrets: [SECRET], verifyToken: 'bench' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 1,
  });
  const events = bodies.map((b) => benchEvent(b, signBody(b, SECRET)));
  // The floor's HMAC is the handler's own (pads worked out once): a floor built on the slower createHmac would credit
  // the handler with a speed-up of the very step the floor stands for.
  const hmac = new HmacSha256(Buffer.from(SECRET, 'utf8'));
  let n = 0;
  let m = 0;
  const [handlerMicros, floorMicros] = await timePair(
    async () => {
      const r = await handler(events[n++ % events.length]!);
      if (r.statusCode !== 200) throw new Error(`webhook answered ${r.statusCode}: ${r.body}`);
    },
    async () => {
      const b = bodies[m++ % bodies.length]!;
      hmac.digest(b);
      JSON.parse(b.toString('utf8'));
    },
    iterations,
  );
  return {
    name,
    bytes: Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length),
    handlerMicros: Math.round(handlerMicros * 10) / 10,
    floorMicros: Math.round(floorMicros * 10) / 10,
    ratio: Math.round((handlerMicros / floorMicros) * 100) / 100,
  };
};

export const memoryStore = (): ClientStore => new MemoryClientStore();
