import { BadRequestError, NotFoundError } from '../shared/errors.js';
import { ID_RULE, isRelayId } from '../shared/ids.js';
import { deriveOutcome, fallbackIdOf, type OutcomeEntry, type OutcomeHistory, type OutcomeState, WINDOW_CLOSED } from './message-outcome.js';
import type { MessageOutcomeStore, MessageRecord } from './ports.js';
import type { MessageKey } from '../outbound/send-ledger.js';

/** Longest messageId the route accepts: an envelope's 128 characters plus `:fallback`. */
const MAX_MESSAGE_ID_LENGTH = 137;

export interface MessageHistoryEntry {
  readonly state: OutcomeState;
  readonly at: string;
  readonly source: 'webhook' | 'relay';
  readonly wamid?: string;
  readonly reason?: string;
  readonly detail?: string;
  readonly errors?: OutcomeEntry['errors'];
  readonly pricing?: OutcomeEntry['pricing'];
  readonly conversation?: OutcomeEntry['conversation'];
  /** Whom Meta's status names: phone number (`recipientId`), BSUID (`userId`), parent BSUID (`parentUserId`). */
  readonly recipient?: OutcomeEntry['recipient'];
}

/** `GET /messages/{wabaId}/{messageId}`. */
export interface MessageView {
  readonly wabaId: string;
  readonly messageId: string;
  /** The outcome, or null while nothing is known yet (claimed for a send that has not settled). */
  readonly outcome: OutcomeState | null;
  readonly since: string | null;
  readonly reason?: string;
  readonly wamid: string | null;
  readonly history: readonly MessageHistoryEntry[];
  /** The send ledger's state (`SENDING`, `SENT`, `RELEASED`, `AMBIGUOUS`), or null when the message was never claimed. */
  readonly send: { readonly state: string; readonly sentAt: string | null } | null;
  /** Present when the envelope had a fallback: its own message id and outcome. */
  readonly fallback?: { readonly messageId: string; readonly outcome: OutcomeState | null; readonly wamid: string | null };
}

/** The history with the send ledger's accepted send as the `sent` entry when no status said so yet. */
const withLedger = (r: MessageRecord): OutcomeHistory => {
  const l = r.ledger;
  if (r.history.sent || l?.state !== 'SENT' || !l.wamid) return r.history;
  const atMs = l.sentAt ? Date.parse(l.sentAt) : Number.NaN;
  if (Number.isNaN(atMs)) return r.history;
  return { ...r.history, sent: { state: 'sent', atMs, source: 'relay', wamid: l.wamid } };
};

const showEntry = (e: OutcomeEntry): MessageHistoryEntry => ({
  state: e.state,
  at: new Date(e.atMs).toISOString(),
  source: e.source,
  ...(e.wamid !== undefined ? { wamid: e.wamid } : {}),
  ...(e.reason !== undefined ? { reason: e.reason } : {}),
  ...(e.detail !== undefined ? { detail: e.detail } : {}),
  ...(e.errors ? { errors: e.errors } : {}),
  ...(e.pricing ? { pricing: e.pricing } : {}),
  ...(e.conversation ? { conversation: e.conversation } : {}),
  ...(e.recipient ? { recipient: e.recipient } : {}),
});

export const parseMessageKey = (wabaId: string, messageId: string): MessageKey => {
  if (!isRelayId(wabaId)) throw new BadRequestError(`wabaId ${ID_RULE}`);
  if (messageId.length === 0 || messageId.length > MAX_MESSAGE_ID_LENGTH) throw new BadRequestError(`messageId must be 1-${MAX_MESSAGE_ID_LENGTH} characters`);
  return { wabaId, messageId };
};

/** What the relay knows about one message; 404 (NotFoundError) when it knows nothing. */
export const readMessageView = async (store: Pick<MessageOutcomeStore, 'read'>, key: MessageKey): Promise<MessageView> => {
  const r = await store.read(key);
  if (!r) throw new NotFoundError(`no message ${key.messageId} for WABA ${key.wabaId}`);
  const outcome = deriveOutcome(withLedger(r));
  let fallback: MessageView['fallback'];
  // The envelope had a fallback (kept at send time), or the window closed (a synchronous refusal sends it at once).
  if (r.fallback || outcome?.reason === WINDOW_CLOSED) {
    const id = fallbackIdOf(key.messageId);
    const f = await store.read({ wabaId: key.wabaId, messageId: id });
    const fo = f ? deriveOutcome(withLedger(f)) : null;
    if (r.fallback || f) fallback = { messageId: id, outcome: fo?.state ?? null, wamid: fo?.wamid ?? null };
  }
  return {
    wabaId: key.wabaId,
    messageId: key.messageId,
    outcome: outcome?.state ?? null,
    since: outcome?.since ?? null,
    ...(outcome?.reason !== undefined ? { reason: outcome.reason } : {}),
    wamid: outcome?.wamid ?? r.ledger?.wamid ?? null,
    history: (outcome?.history ?? []).map(showEntry),
    send: r.ledger ? { state: r.ledger.state, sentAt: r.ledger.sentAt } : null,
    ...(fallback ? { fallback } : {}),
  };
};
