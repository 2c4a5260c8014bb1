/** What came back from one Cloud API send, before interpretation. */
export type CloudApiResult =
  | { readonly kind: 'accepted'; readonly wamid: string }
  | { readonly kind: 'http-error'; readonly status: number; readonly error: CloudApiError | null }
  /** The request may or may not have reached Meta (timeout or connection lost after sending). */
  | { readonly kind: 'no-answer'; readonly ambiguous: boolean; readonly message: string };

export interface CloudApiError {
  readonly code?: number;
  readonly subcode?: number;
  readonly type?: string;
  readonly message?: string;
  readonly fbtraceId?: string;
  readonly details?: string;
}

export type SendVerdict =
  | { readonly verdict: 'sent'; readonly wamid: string }
  /** Throughput or transient failure: try again later with backoff (at least `minDelaySeconds`). */
  | {
      readonly verdict: 'retry';
      readonly why: string;
      readonly minDelaySeconds: number;
      readonly ambiguous: boolean;
      /** 130429 (the number's throughput) or 131056 (pair rate): never counts toward MAX_SEND_ATTEMPTS. */
      readonly rateLimit?: 'throughput' | 'pair-rate';
    }
  /** The answer suggests the number is not connected to the Cloud API right now: park like an offboarded client. */
  | { readonly verdict: 'park'; readonly why: string }
  /**
   * The client's access token was refused (190 and its kin: 0, 10, 200-299): every send with it fails until it is
   * replaced. A client-wide condition, not a fault of the message: hold the client, never dead-letter the message.
   */
  | { readonly verdict: 'token-invalid'; readonly why: string }
  /** Meta refused this message for good; `windowClosed` for 131047 (the 24-hour window closed: a template may go). */
  | { readonly verdict: 'reject'; readonly why: string; readonly windowClosed?: true; readonly recipientTypeNotSupported?: true };

/** 131062: this type of message cannot go to a business-scoped user id (authentication templates, for one). */
const BSUID_NOT_SUPPORTED_CODE = 131062;
/** 131047: the 24-hour customer-service window closed (only a template may be sent). */
export const WINDOW_CLOSED_CODE = 131047;
/** Transient errors: back off and retry. */
const TRANSIENT = new Set([1, 2, 4, 80007, 131000, 131016, 133004, 131057]);
/** Throughput limits. */
const THROUGHPUT = new Set([130429]);
/** Pair rate limit: ~1 message per 6 s per recipient; back off 4^n seconds. */
const PAIR_RATE = 131056;
/** Codes that hint the number is not (yet) connected to the Cloud API: treat like an offboarded client. */
const NOT_CONNECTED = new Set([133010, 131045, 131031, 368]);
/** The token, not the number: 190 (expired, invalid), 0 (AuthException), 10 and 200-299 (permission). */
const isTokenError = (code: number): boolean => code === 190 || code === 0 || code === 10 || (code >= 200 && code <= 299);
const PARAM_ERROR = 100;
const PARAM_NOT_CONNECTED_SUBCODE = 33;

const describe = (status: number, e: CloudApiError | null): string =>
  e?.code !== undefined
    ? `HTTP ${status}, code ${e.code}${e.subcode !== undefined ? `/${e.subcode}` : ''}: ${e.message ?? ''}`.trim()
    : `HTTP ${status}`;

/** Interprets a Cloud API answer (the table in docs/outbound.md, "Cloud API answers"). */
export const classifyCloudApiResult = (r: CloudApiResult): SendVerdict => {
  if (r.kind === 'accepted') return { verdict: 'sent', wamid: r.wamid };
  if (r.kind === 'no-answer') {
    return { verdict: 'retry', why: r.message, minDelaySeconds: 1, ambiguous: r.ambiguous };
  }
  const { status, error } = r;
  const code = error?.code;
  const why = describe(status, error);
  if (code !== undefined) {
    if (code === PARAM_ERROR && error?.subcode === PARAM_NOT_CONNECTED_SUBCODE) return { verdict: 'park', why };
    if (NOT_CONNECTED.has(code)) return { verdict: 'park', why };
    if (isTokenError(code)) return { verdict: 'token-invalid', why };
    if (code === PAIR_RATE) return { verdict: 'retry', why, minDelaySeconds: 6, ambiguous: false, rateLimit: 'pair-rate' };
    if (THROUGHPUT.has(code)) return { verdict: 'retry', why, minDelaySeconds: 1, ambiguous: false, rateLimit: 'throughput' };
    if (TRANSIENT.has(code)) return { verdict: 'retry', why, minDelaySeconds: 1, ambiguous: false };
  }
  if (status === 429 || status >= 500) return { verdict: 'retry', why, minDelaySeconds: 1, ambiguous: false };
  // 100, 131026, 131047 (24-hour window closed), 131049 (per-user marketing limit), 131050, 130403, 132xxx and any
  // other 4xx: permanent for this message.
  if (code === BSUID_NOT_SUPPORTED_CODE) return { verdict: 'reject', why, recipientTypeNotSupported: true };
  return code === WINDOW_CLOSED_CODE ? { verdict: 'reject', why, windowClosed: true } : { verdict: 'reject', why };
};
