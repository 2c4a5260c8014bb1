/**
 * Probing a phone number: `GET /{version}/{phone-number-id}?fields=...` with the client's token (see the reference,
 * "Checking a number directly"). Pure: the answer's interpretation and the probe schedule. The HTTP call lives in the
 * Cloud API adapter.
 *
 * What the fields show while reonboarding is in progress is not documented, so a probe is evidence, never an event:
 * only a clear answer counts, anything else keeps what the relay believes.
 */
import * as z from 'zod/mini';
import { lazily } from '../shared/zod.js';
import type { ProbeVerdict } from './client-health.js';

export const PROBE_FIELDS = 'is_on_biz_app,platform_type,status,code_verification_status,throughput,health_status';

/** What came back from one probe, before interpretation. */
export type ProbeResult =
  | { readonly kind: 'answer'; readonly httpStatus: number; readonly body: unknown }
  | { readonly kind: 'no-answer'; readonly message: string };

/** A string field, or absent when missing or of another type (what the probe answers is not documented). */
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** Meta writes codes as numbers, sometimes as numeric strings. */
const code = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : undefined;
const list = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);

/**
 * The answer's shape; every field is optional and read leniently (a field of the wrong type counts as absent), so
 * only the structure is checked here and the values by the readers above. Kept to `looseObject` and `unknown` on
 * purpose: number and boolean schemas would pull ~10 KB more of zod into the consumer's bundle. Built on the first probe
 * read, not at import: the consumer and the releaser import this module but rarely probe.
 */
const schemas = lazily(() => ({
  phoneNumberNode: z.looseObject({
    status: z.optional(z.unknown()),
    platform_type: z.optional(z.unknown()),
    health_status: z.optional(z.unknown()),
  }),
  healthStatus: z.looseObject({ can_send_message: z.optional(z.unknown()), entities: z.optional(z.unknown()) }),
  entity: z.looseObject({ can_send_message: z.optional(z.unknown()), errors: z.optional(z.unknown()) }),
  errorBody: z.looseObject({
    error: z.looseObject({ code: z.optional(z.unknown()), error_subcode: z.optional(z.unknown()), message: z.optional(z.unknown()) }),
  }),
}));

export interface ProbeReading {
  readonly verdict: ProbeVerdict;
  /** Short, safe to log and show: the fields that decided, never the token or the whole body. */
  readonly detail: string;
}

const cut = (s: string | undefined, n = 120): string => (s ?? '').slice(0, n);

/**
 * Interprets a probe answer:
 * - cannot send: error 100 with subcode 33, `status` DISCONNECTED, `platform_type` ON_PREMISE, `can_send_message` BLOCKED;
 * - can send: `health_status.can_send_message` AVAILABLE with no entity errors, or `status` CONNECTED on `CLOUD_API`;
 * - any other error or a missing answer: `error`; any other answer: `unclear`.
 */
export const readProbe = (result: ProbeResult): ProbeReading => {
  if (result.kind === 'no-answer') return { verdict: 'error', detail: `no answer: ${cut(result.message)}` };
  const { httpStatus, body } = result;
  const { errorBody, phoneNumberNode, healthStatus, entity } = schemas();
  if (httpStatus < 200 || httpStatus >= 300) {
    const e = errorBody.safeParse(body);
    const err = e.success ? e.data.error : undefined;
    const c = code(err?.code);
    const sub = code(err?.error_subcode);
    const what = `HTTP ${httpStatus}${c !== undefined ? `, code ${c}${sub !== undefined ? `/${sub}` : ''}` : ''}`;
    if (c === 100 && sub === 33) return { verdict: 'cannot-send', detail: `${what}: the number cannot be read (not connected)` };
    const message = text(err?.message);
    return { verdict: 'error', detail: `${what}${message ? `: ${cut(message)}` : ''}` };
  }
  const node = phoneNumberNode.safeParse(body);
  if (!node.success) return { verdict: 'unclear', detail: 'answer is not a phone number node' };
  const h = healthStatus.safeParse(node.data.health_status);
  const entities = h.success ? list(h.data.entities).flatMap((x) => { const r = entity.safeParse(x); return r.success ? [r.data] : []; }) : [];
  const n = { status: text(node.data.status), platform_type: text(node.data.platform_type) };
  const canSend = h.success ? text(h.data.can_send_message) : undefined;
  const errors = entities.flatMap((x) => list(x.errors));
  const blocked = canSend === 'BLOCKED' || entities.some((x) => x.can_send_message === 'BLOCKED');
  const errorCodes = errors.map((x) => (x && typeof x === 'object' ? code((x as { error_code?: unknown }).error_code) : undefined) ?? '?');
  const fields = [
    n.status !== undefined ? `status ${cut(n.status, 40)}` : null,
    n.platform_type !== undefined ? `platform_type ${cut(n.platform_type, 40)}` : null,
    canSend !== undefined ? `can_send_message ${cut(canSend, 40)}` : null,
    errors.length > 0 ? `errors ${errorCodes.join(',')}` : null,
  ]
    .filter((f) => f !== null)
    .join(', ');
  const detail = fields || 'no status fields';
  if (n.status === 'DISCONNECTED' || n.platform_type === 'ON_PREMISE' || blocked) return { verdict: 'cannot-send', detail };
  if (canSend === 'AVAILABLE' && errors.length === 0) return { verdict: 'can-send', detail };
  if (n.status === 'CONNECTED' && n.platform_type === 'CLOUD_API') return { verdict: 'can-send', detail };
  return { verdict: 'unclear', detail };
};

export interface ProbePolicy {
  /** At least this long between two probes of one client, and the first backoff step. */
  readonly intervalSeconds: number;
  /** The backoff doubles up to this. */
  readonly maxIntervalSeconds: number;
  /** Share of Meta's management-call budget probes may use (0-1). */
  readonly budgetShare: number;
  /** Meta's management-call budget per WABA per hour. */
  readonly budgetPerHour: number;
}

/**
 * The shortest gap between two probes of one client that keeps within both the configured interval and the budget
 * share: with 5,000 calls per hour and a 2% share, at most 100 probes an hour, so never closer than 36 s.
 */
export const minProbeGapSeconds = (p: ProbePolicy): number => {
  const perHour = p.budgetShare * p.budgetPerHour;
  const byBudget = perHour > 0 ? Math.ceil(3600 / perHour) : Number.POSITIVE_INFINITY;
  return Math.max(p.intervalSeconds, byBudget);
};

/** The wait after the `attempt`-th probe (0-based) of a hold: the minimum gap, doubling up to the cap. */
export const probeBackoffSeconds = (p: ProbePolicy, attempt: number): number => {
  const gap = minProbeGapSeconds(p);
  const doubled = gap * 2 ** Math.min(Math.max(0, attempt), 30);
  return Math.max(gap, Math.min(doubled, p.maxIntervalSeconds));
};

/** Probes per hour of a client held for a whole hour (the probe as the hold starts, then the backoff), for docs/client-health.md. */
export const probesInFirstHour = (p: ProbePolicy): number => {
  let t = 0;
  let n = 0;
  for (let attempt = 0; t < 3600; attempt++) {
    n++;
    t += probeBackoffSeconds(p, attempt);
  }
  return n;
};
