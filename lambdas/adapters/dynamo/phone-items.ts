import type { PhoneOwner } from '../../core/outbound/ports.js';

/** The items of a business phone number: its owner (`keys.phoneOwner`) and its release pace slots (`keys.pace`). */

/** Attributes of the owner item. */
export const PHONE_OWNER_ATTRS = { wabaId: 'wabaId', learnedFrom: 'learnedFrom', learnedAt: 'learnedAt' } as const;

/** A phone number owner item; an unknown `learnedFrom` reads as a webhook, a missing `learnedAt` as 0. */
export const phoneOwnerFromItem = (item: Record<string, unknown>): PhoneOwner | null =>
  typeof item.wabaId === 'string'
    ? { wabaId: item.wabaId, learnedFrom: item.learnedFrom === 'send' ? 'send' : 'webhook', learnedAt: typeof item.learnedAt === 'number' ? item.learnedAt : 0 }
    : null;

/** Attribute of the pace item: the next free send slot (epoch ms). */
export const PACE_ATTRS = { nextSlotMs: 'nextSlotMs' } as const;
/** A pace item outlives its last reservation by a day (TTL, epoch seconds). */
export const paceTtl = (nowMs: number): number => Math.floor(nowMs / 1000) + 86_400;
