import { OUTCOME_STATES, type OutcomeEntry, type OutcomeHistory, type OutcomeState } from '../../core/outcomes/message-outcome.js';
import type { MessageRecord, StoredFallback } from '../../core/outcomes/ports.js';
import { LEDGER_STATES, type LedgerState, type LedgerView, type MessageKey } from '../../core/outbound/send-ledger.js';

/**
 * The message item (`keys.message`, also `keys.ledger`): the send ledger's state, token and lease, the outcome history
 * and the fallback of one message, and the wamid item (`keys.wamid`) that names the message a wamid belongs to. Both
 * expire (TTL) with the send ledger's retention (`ttlAfterDays`).
 */

/** The ledger's attributes on the message item. */
export const LEDGER_ATTRS = {
  state: 'state',
  token: 'token',
  leaseUntil: 'leaseUntil',
  claims: 'claims',
  wabaId: 'wabaId',
  messageId: 'messageId',
  wamid: 'wamid',
  sentAt: 'sentAt',
  redrivenAt: 'redrivenAt',
  deadLetteredAt: 'deadLetteredAt',
  deadLetterReason: 'deadLetterReason',
  fallbackMessageId: 'fallbackMessageId',
} as const;

/** The ledger part of a message item as read back (the consumer's batch read, a refused claim). */
export const ledgerViewFromItem = (item: Record<string, unknown> | null | undefined): LedgerView | null =>
  item && typeof item[LEDGER_ATTRS.state] === 'string' && (LEDGER_STATES as readonly string[]).includes(item[LEDGER_ATTRS.state] as string)
    ? { state: item[LEDGER_ATTRS.state] as LedgerState, wamid: typeof item[LEDGER_ATTRS.wamid] === 'string' ? (item[LEDGER_ATTRS.wamid] as string) : null }
    : null;

/** The ledger part of a message item as an operator reads it (any state shown), null when no send claimed it. */
export const ledgerRecordFromItem = (item: Record<string, unknown> | undefined): MessageRecord['ledger'] => {
  const state = item?.[LEDGER_ATTRS.state];
  if (!item || typeof state !== 'string') return null;
  const wamid = item[LEDGER_ATTRS.wamid];
  const sentAt = item[LEDGER_ATTRS.sentAt];
  return { state, wamid: typeof wamid === 'string' ? wamid : null, sentAt: typeof sentAt === 'string' ? sentAt : null };
};

/** The outcome item's attributes: one entry and its sort key per state (see `core/message-outcome.ts`). */
export const OUTCOME_ATTRS = {
  entry: (s: OutcomeState): string => `out_${s.replace('-', '_')}`,
  key: (s: OutcomeState): string => `outKey_${s.replace('-', '_')}`,
  fallback: 'fallback',
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the history of an outcome item; an entry that is not readable is left out, never a reason to fail. */
export const historyFromItem = (item: Record<string, unknown> | undefined): OutcomeHistory => {
  const h: OutcomeHistory = {};
  if (!item) return h;
  for (const s of OUTCOME_STATES) {
    const e = item[OUTCOME_ATTRS.entry(s)];
    if (isObj(e) && e.state === s && typeof e.atMs === 'number') h[s] = e as unknown as OutcomeEntry;
  }
  return h;
};

/** The fallback stored on a message item, null when there is none or it is not readable. */
export const fallbackFromItem = (item: Record<string, unknown> | undefined): StoredFallback | null => {
  const f = item?.[OUTCOME_ATTRS.fallback];
  return isObj(f) && typeof f.phoneNumberId === 'string' && isObj(f.payload) ? { phoneNumberId: f.phoneNumberId, payload: f.payload } : null;
};

/** Where outcomes lived before they moved onto the message item: still read until those items expire. */
export const LEGACY_OUTCOME_SK = 'OUTCOME';

/** The message a wamid item names, null when it names none. */
export const messageKeyFromWamidItem = (item: Record<string, unknown>): MessageKey | null =>
  typeof item.wabaId === 'string' && typeof item.messageId === 'string' ? { wabaId: item.wabaId, messageId: item.messageId } : null;
