/**
 * The send ledger: the exactly-once guard around the Cloud API call, one entry per `(wabaId, messageId)`.
 *
 *   (none) | RELEASED | AMBIGUOUS | SENDING with an expired lease  --claim-->  SENDING (with a lease)
 *   SENDING  --markSent-->  SENT          (Meta accepted it: never sent again)
 *   SENDING  --release-->   RELEASED      (Meta provably did not accept it: a later attempt may send)
 *   SENDING  --markAmbiguous-->  AMBIGUOUS (no answer: a later attempt sends again and counts as a resend)
 *
 * A transition out of SENDING happens only for the claim's own token: a worker whose lease was taken over changes
 * nothing. The DynamoDB ledger (`lambdas/adapters/dynamo/outbound-stores.ts`) implements these rules as conditions.
 */
export const LEDGER_STATES = ['SENDING', 'SENT', 'RELEASED', 'AMBIGUOUS'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

/** States a new claim may take over without looking at the lease (SENDING may be taken once its lease expired). */
export const CLAIMABLE_STATES = ['RELEASED', 'AMBIGUOUS'] as const satisfies readonly LedgerState[];

/** The states a claim holder may move its entry to, by the ledger operation that does it. */
export const SETTLED_STATE = { markSent: 'SENT', release: 'RELEASED', markAmbiguous: 'AMBIGUOUS' } as const satisfies Record<
  string,
  LedgerState
>;

/** Allowed transitions (from -> to); every other change is refused. */
export const LEDGER_TRANSITIONS: Readonly<Record<LedgerState | 'NONE', readonly LedgerState[]>> = {
  NONE: ['SENDING'],
  RELEASED: ['SENDING'],
  AMBIGUOUS: ['SENDING'],
  SENDING: ['SENDING', 'SENT', 'RELEASED', 'AMBIGUOUS'],
  SENT: [],
};

/**
 * Whether a claim that replaced `previous` may be a second send of a message Meta already has: the last attempt got
 * no answer (AMBIGUOUS), or a worker died mid-send (SENDING whose lease expired).
 */
export const isResend = (previous: LedgerState | undefined): boolean => previous === 'AMBIGUOUS' || previous === 'SENDING';

export type ClaimResult =
  /** This worker may send. `resend` is true when an earlier attempt may already have reached Meta. */
  | { readonly outcome: 'claimed'; readonly token: string; readonly resend: boolean }
  | { readonly outcome: 'already-sent'; readonly wamid: string | null }
  /** Another worker is sending this message right now. */
  | { readonly outcome: 'in-flight' };

/** A message's identity: `messageId` is unique per client WABA, not across them. */
export interface MessageKey {
  readonly wabaId: string;
  readonly messageId: string;
}

/** The ledger port, keyed by `(wabaId, messageId)`: the same `messageId` under two WABAs is two messages. */
export interface SendLedger {
  claim(key: MessageKey, nowMs: number): Promise<ClaimResult>;
  markSent(key: MessageKey, token: string, wamid: string, nowMs: number): Promise<void>;
  /** The send failed in a way that proves Meta did not accept it: another attempt may send. */
  release(key: MessageKey, token: string): Promise<void>;
  /** Meta may have accepted the message (no answer): a later attempt sends again and is counted as a resend. */
  markAmbiguous(key: MessageKey, token: string): Promise<void>;
}
