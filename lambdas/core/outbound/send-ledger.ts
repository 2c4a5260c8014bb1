/**
 * One message lifecycle: the send ledger entry, one per `(wabaId, messageId)`, that every path reads (or claims) before
 * it acts on a message: the consumer, a delay-queue copy, a parked copy in a release, a redriven dead letter.
 *
 *   (none) | RELEASED | AMBIGUOUS | SENDING with an expired lease  --claim-->  SENDING (with a lease)
 *   SENDING  --markSent-->              SENT                  (Meta accepted it)
 *   SENDING  --markDeadLettered-->      DEAD_LETTERED         (its dead letter is on the dead-letter queue)
 *   SENDING  --markReplaced-->          REPLACED_BY_FALLBACK  (131047: its fallback went in its place)
 *   SENDING  --release-->               RELEASED              (Meta provably did not accept it: a later attempt may send)
 *   SENDING  --markAmbiguous-->         AMBIGUOUS             (no answer: a later attempt sends again, counted as a resend)
 *   DEAD_LETTERED  --reopen with the dead letter's `deadLetteredAt` (an operator's redrive)-->  RELEASED
 *
 * SENT, DEAD_LETTERED and REPLACED_BY_FALLBACK are final: a message in one of them is acknowledged wherever another copy
 * of it turns up, never sent or dead-lettered again. The one way out of DEAD_LETTERED is an operator's redrive of that
 * very dead letter. A transition out of SENDING happens only for the claim's own token: a worker whose lease was taken
 * over changes nothing. The DynamoDB ledger (`lambdas/adapters/dynamo/outbound-stores.ts`) writes these as conditions.
 */
export const LEDGER_STATES = ['SENDING', 'SENT', 'DEAD_LETTERED', 'REPLACED_BY_FALLBACK', 'RELEASED', 'AMBIGUOUS'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

/** States no copy of the message may act on again. */
export const FINAL_STATES = ['SENT', 'DEAD_LETTERED', 'REPLACED_BY_FALLBACK'] as const satisfies readonly LedgerState[];
export type FinalState = (typeof FINAL_STATES)[number];
export const isFinal = (state: unknown): state is FinalState => (FINAL_STATES as readonly unknown[]).includes(state);

/** States a new claim may take over without looking at the lease (SENDING may be taken once its lease expired). */
export const CLAIMABLE_STATES = ['RELEASED', 'AMBIGUOUS'] as const satisfies readonly LedgerState[];

/** The states a claim holder may move its entry to, by the ledger operation that does it. */
export const SETTLED_STATE = {
  markSent: 'SENT',
  markDeadLettered: 'DEAD_LETTERED',
  markReplaced: 'REPLACED_BY_FALLBACK',
  release: 'RELEASED',
  markAmbiguous: 'AMBIGUOUS',
} as const satisfies Record<string, LedgerState>;

/** Allowed transitions (from -> to); every other change is refused. */
export const LEDGER_TRANSITIONS: Readonly<Record<LedgerState | 'NONE', readonly LedgerState[]>> = {
  NONE: ['SENDING'],
  RELEASED: ['SENDING'],
  AMBIGUOUS: ['SENDING'],
  SENDING: ['SENDING', 'SENT', 'DEAD_LETTERED', 'REPLACED_BY_FALLBACK', 'RELEASED', 'AMBIGUOUS'],
  SENT: [],
  /** Only by a redrive of its own dead letter. */
  DEAD_LETTERED: ['RELEASED'],
  REPLACED_BY_FALLBACK: [],
};

/**
 * Whether a claim that replaced `previous` may be a second send of a message Meta already has: the last attempt got
 * no answer (AMBIGUOUS), or a worker died mid-send (SENDING whose lease expired).
 */
export const isResend = (previous: LedgerState | undefined): boolean => previous === 'AMBIGUOUS' || previous === 'SENDING';

/** What a path reads of a message's entry before it acts (the consumer's batch read, a claim that was refused). */
export interface LedgerView {
  readonly state: LedgerState;
  readonly wamid: string | null;
}

export type ClaimResult =
  /** This worker may act (send or dead-letter). `resend` is true when an earlier attempt may already have reached Meta. */
  | { readonly outcome: 'claimed'; readonly token: string; readonly resend: boolean }
  /** The message is done: acknowledge this copy. */
  | { readonly outcome: 'final'; readonly state: FinalState; readonly wamid: string | null }
  /** Another worker is acting on this message right now. */
  | { readonly outcome: 'in-flight' };

/** A message's identity: `messageId` is unique per client WABA, not across them. */
export interface MessageKey {
  readonly wabaId: string;
  readonly messageId: string;
}

/** The ledger port, keyed by `(wabaId, messageId)`: the same `messageId` under two WABAs is two messages. */
export interface SendLedger {
  claim(key: MessageKey, nowMs: number): Promise<ClaimResult>;
  /**
   * An operator redrove the dead letter written at `deadLetteredAt`: its DEAD_LETTERED entry becomes RELEASED, so every
   * copy of the message (its delay-queue copy, its parked copy) may act on it again. False when the entry is not that
   * dead letter's (another redrive reopened it already, or the message was dead-lettered again since).
   */
  reopen(key: MessageKey, deadLetteredAt: string): Promise<boolean>;
  markSent(key: MessageKey, token: string, wamid: string, nowMs: number): Promise<void>;
  /** The dead letter is on the dead-letter queue: final (reopened only by a redrive of it). */
  markDeadLettered(key: MessageKey, token: string, dead: { readonly reason: string; readonly deadLetteredAt: string }): Promise<void>;
  /** The window closed (131047) and the envelope's fallback went in the message's place: final. */
  markReplaced(key: MessageKey, token: string, fallbackMessageId: string): Promise<void>;
  /** The send failed in a way that proves Meta did not accept it: another attempt may send. */
  release(key: MessageKey, token: string): Promise<void>;
  /** Meta may have accepted the message (no answer): a later attempt sends again and is counted as a resend. */
  markAmbiguous(key: MessageKey, token: string): Promise<void>;
}
