import { randomUUID } from 'node:crypto';
import { orderKeyOf, type StatusClass } from '../../lambdas/core/client-status.js';
import type { ClientStore, ParkedCopy } from '../../lambdas/core/ports.js';
import { parkedOrderKey } from '../../lambdas/core/release.js';

/** Writes one status event for a client straight into the store (what the webhook does for an account_update). */
export const setStatus = async (store: ClientStore, wabaId: string, cls: StatusClass, timeSeconds: number): Promise<void> => {
  const eventId = `${cls}-${timeSeconds}-${randomUUID().slice(0, 6)}`;
  await store.applyStatusEvent(wabaId, cls, {
    orderKey: orderKeyOf(timeSeconds * 1000, eventId),
    event: cls === 'OFFBOARDED' ? 'ACCOUNT_OFFBOARDED' : cls === 'RECONNECTED' ? 'ACCOUNT_RECONNECTED' : cls,
    eventId,
    eventTimeMs: timeSeconds * 1000,
    appliedAt: new Date().toISOString(),
  });
};

export interface CopyInit {
  readonly wabaId: string;
  readonly to: string;
  readonly phoneNumberId?: string;
  readonly enqueuedMs: number;
  readonly text?: string;
  readonly body?: string;
}

/** A parked copy as the consumer writes it when it parks a message. */
export const parkedCopy = (init: CopyInit): ParkedCopy => {
  const messageId = `m-${randomUUID().slice(0, 12)}`;
  const phoneNumberId = init.phoneNumberId ?? `pn-${init.wabaId}`;
  const body =
    init.body ??
    JSON.stringify({
      messageId,
      wabaId: init.wabaId,
      phoneNumberId,
      payload: { messaging_product: 'whatsapp', to: init.to, type: 'text', text: { body: init.text ?? messageId } },
    });
  return {
    wabaId: init.wabaId,
    messageId,
    orderKey: parkedOrderKey(init.enqueuedMs, messageId),
    firstEnqueuedMs: init.enqueuedMs,
    firstParkedAt: new Date(init.enqueuedMs + 5).toISOString(),
    phoneNumberId,
    recipient: init.to,
    parkCount: 1,
    sendAttempts: 0,
    rateLimitHits: 0,
    body,
  };
};
