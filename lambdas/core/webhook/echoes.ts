/**
 * `smb_message_echoes` changes: what the business owner wrote from the WhatsApp Business app on a coexistence number.
 * Each echo names the customer (`to`, or `to_user_id` for a user known by username) and when it was written: the
 * relay remembers it so automated messages to that customer wait for the human (send-policy.ts).
 */
import * as z from 'zod/mini';
import { lazily } from '../shared/zod.js';
import type { HumanReply } from '../outbound/ports.js';
import { readEventTime } from '../status/event-time.js';

/** Built on the first echo change read, not at import: most POSTs carry none. */
const schemas = lazily(() => ({
  echo: z.looseObject({
    to: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
    to_user_id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
    timestamp: z.optional(z.unknown()),
  }),
  value: z.looseObject({
    metadata: z.optional(z.looseObject({ phone_number_id: z.optional(z.string().check(z.minLength(1), z.maxLength(64))) })),
    message_echoes: z.optional(z.array(z.unknown())),
  }),
}));

/** The most echoes read from one change (Meta batches up to 1000 updates per POST). */
const MAX_ECHOES = 1000;

/**
 * The owner's replies in one change of `wabaId`: one per echo that names a customer and a usable time (an echo without
 * one is still forwarded, only not remembered). The customer is named as envelopes name recipients: the phone number
 * (`to`) when Meta gives it, else the BSUID.
 */
export const readEchoes = (wabaId: string, raw: unknown, receivedAtMs: number, maxFutureSkewMs: number): HumanReply[] => {
  const { echo, value } = schemas();
  const v = value.safeParse(raw);
  const phoneNumberId = v.success ? v.data.metadata?.phone_number_id : undefined;
  if (!v.success || phoneNumberId === undefined) return [];
  const out: HumanReply[] = [];
  for (const e of (v.data.message_echoes ?? []).slice(0, MAX_ECHOES)) {
    const r = echo.safeParse(e);
    if (!r.success) continue;
    const customer = r.data.to ?? r.data.to_user_id;
    const t = readEventTime(r.data.timestamp, receivedAtMs, maxFutureSkewMs);
    if (customer === undefined || !t.ok) continue;
    out.push({ wabaId, phoneNumberId, customer, atMs: t.ms });
  }
  return out;
};
