/**
 * Probing a phone number: `GET /{version}/{phone-number-id}?fields=...` with the client's token (see the reference,
 * "Checking a number directly"). Pure: the answer's interpretation and the probe schedule. The HTTP call lives in the
 * Cloud API adapter.
 *
 * What the fields show while reonboarding is in progress is not documented, so a probe is evidence, never an event:
 * only a clear answer counts, anything else keeps what the relay believes.
 */
import * as z from 'zod/mini';
import type { ProbeVerdict } from './client-health.js';

export const PROBE_FIELDS = 'is_on_biz_app,platform_type,status,code_verification_status,throughput,health_status';

/** What came back from one probe, before interpretation. */
export type ProbeResult =
  | { readonly kind: 'answer'; readonly httpStatus: number; readonly body: unknown }
  | { readonly kind: 'no-answer'; readonly message: string };

const text = z.catch(z.optional(z.string()), undefined);
const num = z.catch(z.optional(z.pipe(z.union([z.number(), z.string().check(z.regex(/^\d+$/))]), z.transform(Number))), undefined);

const phoneNumberNode = z.looseObject({
  status: text,
  platform_type: text,
  is_on_biz_app: z.catch(z.optional(z.boolean()), undefined),
  health_status: z.catch(
    z.optional(
      z.looseObject({
        can_send_message: text,
        entities: z.catch(
          z.optional(
            z.array(
              z.looseObject({
                can_send_message: text,
                errors: z.catch(z.optional(z.array(z.looseObject({ error_code: num, error_description: text }))), undefined),
              }),
            ),
          ),
          undefined,
        ),
      }),
    ),
    undefined,
  ),
});

const errorBody = z.looseObject({
  error: z.looseObject({ code: num, error_subcode: num, message: text }),
});

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
  if (httpStatus < 200 || httpStatus >= 300) {
    const e = errorBody.safeParse(body);
    const code = e.success ? e.data.error.code : undefined;
    const subcode = e.success ? e.data.error.error_subcode : undefined;
    const what = `HTTP ${httpStatus}${code !== undefined ? `, code ${code}${subcode !== undefined ? `/${subcode}` : ''}` : ''}`;
    if (code === 100 && subcode === 33) return { verdict: 'cannot-send', detail: `${what}: the number cannot be read (not connected)` };
    return { verdict: 'error', detail: `${what}${e.success && e.data.error.message ? `: ${cut(e.data.error.message)}` : ''}` };
  }
  const node = phoneNumberNode.safeParse(body);
  if (!node.success) return { verdict: 'unclear', detail: 'answer is not a phone number node' };
  const n = node.data;
  const health = n.health_status;
  const errors = (health?.entities ?? []).flatMap((e) => e.errors ?? []);
  const blocked = health?.can_send_message === 'BLOCKED' || (health?.entities ?? []).some((e) => e.can_send_message === 'BLOCKED');
  const fields = [
    n.status !== undefined ? `status ${cut(n.status, 40)}` : null,
    n.platform_type !== undefined ? `platform_type ${cut(n.platform_type, 40)}` : null,
    health?.can_send_message !== undefined ? `can_send_message ${cut(health.can_send_message, 40)}` : null,
    errors.length > 0 ? `errors ${errors.map((e) => e.error_code ?? '?').join(',')}` : null,
  ]
    .filter((f) => f !== null)
    .join(', ');
  const detail = fields || 'no status fields';
  if (n.status === 'DISCONNECTED' || n.platform_type === 'ON_PREMISE' || blocked) return { verdict: 'cannot-send', detail };
  if (health?.can_send_message === 'AVAILABLE' && errors.length === 0) return { verdict: 'can-send', detail };
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

/** Probes per hour of a client held for a whole hour (the probe as the hold starts, then the backoff), for the README. */
export const probesInFirstHour = (p: ProbePolicy): number => {
  let t = 0;
  let n = 0;
  for (let attempt = 0; t < 3600; attempt++) {
    n++;
    t += probeBackoffSeconds(p, attempt);
  }
  return n;
};
