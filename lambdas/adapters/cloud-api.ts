import type { CloudApiError, CloudApiResult } from '../core/outbound/cloud-api-result.js';
import type { CloudApi, TokenProvider } from '../core/outbound/ports.js';
import type { PhoneNumberProbe } from '../core/health/ports.js';
import { PROBE_FIELDS, type ProbeResult } from '../core/health/probe.js';
import { ConfigError, NoTokenError } from '../core/shared/errors.js';

export { NoTokenError };

/** Network errors raised before a request could have reached the server: safe to resend. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

const errorCode = (error: unknown): string | undefined => {
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
};

const readError = (json: unknown): CloudApiError | null => {
  const e = (json as { error?: Record<string, unknown> } | null)?.error;
  if (!e || typeof e !== 'object') return null;
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 500) : undefined);
  const details = (e.error_data as { details?: unknown } | undefined)?.details;
  const out: Record<string, unknown> = {
    code: num(e.code),
    subcode: num(e.error_subcode),
    type: str(e.type),
    message: str(e.message),
    fbtraceId: str(e.fbtrace_id),
    details: str(details),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as CloudApiError;
};

/**
 * `POST {base}/{version}/{phoneNumberId}/messages`. Node's fetch keeps connections alive between calls; every call
 * has a timeout. Never throws: every outcome is a {@link CloudApiResult}.
 */
export class HttpCloudApi implements CloudApi, PhoneNumberProbe {
  constructor(
    private readonly baseUrl: string,
    private readonly version: string,
    private readonly timeoutMs: number,
  ) {}

  async send(phoneNumberId: string, payload: Readonly<Record<string, unknown>>, token: string): Promise<CloudApiResult> {
    const url = `${this.baseUrl}/${this.version}/${encodeURIComponent(phoneNumberId)}/messages`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const code = errorCode(error);
      const name = error instanceof Error ? error.name : 'Error';
      if (name === 'TimeoutError' || name === 'AbortError') {
        return { kind: 'no-answer', ambiguous: true, message: `no answer within ${this.timeoutMs} ms` };
      }
      return { kind: 'no-answer', ambiguous: !(code && NOT_SENT_CODES.has(code)), message: `${name}${code ? ` ${code}` : ''}` };
    }
    let json: unknown = null;
    try {
      json = await response.json();
    } catch {
      // A body that is not JSON (a proxy's HTML error page, say) leaves only the status to go by.
      if (response.ok) return { kind: 'no-answer', ambiguous: true, message: `HTTP ${response.status} with an unreadable body` };
    }
    if (response.ok) {
      const wamid = (json as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
      if (typeof wamid === 'string' && wamid.length > 0) return { kind: 'accepted', wamid };
      return { kind: 'no-answer', ambiguous: true, message: `HTTP ${response.status} without messages[0].id` };
    }
    return { kind: 'http-error', status: response.status, error: readError(json) };
  }

  /** `GET {base}/{version}/{phoneNumberId}?fields=...`: reads the number's state; never registers anything. */
  async probe(phoneNumberId: string, token: string): Promise<ProbeResult> {
    const url = `${this.baseUrl}/${this.version}/${encodeURIComponent(phoneNumberId)}?fields=${PROBE_FIELDS}`;
    try {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(this.timeoutMs) });
      let body: unknown = null;
      try {
        body = await response.json();
      } catch {
        // Not JSON: the status alone decides (readProbe treats a 2xx without a node as unclear).
      }
      return { kind: 'answer', httpStatus: response.status, body };
    } catch (error) {
      const code = errorCode(error);
      const name = error instanceof Error ? error.name : 'Error';
      return { kind: 'no-answer', message: `${name}${code ? ` ${code}` : ''}` };
    }
  }
}

/**
 * Cloud API tokens: the secret text is either one token, or JSON `{"default": "...", "byWaba": {"<wabaId>": "..."}}`
 * for partners holding one business token per client.
 */
export const parseTokenSecret = (text: string): { readonly default: string | undefined; readonly byWaba: ReadonlyMap<string, string> } => {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) {
    if (trimmed.length === 0) throw new ConfigError('WHATSAPP_ACCESS_TOKEN is empty');
    return { default: trimmed, byWaba: new Map() };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new ConfigError('WHATSAPP_ACCESS_TOKEN looks like JSON but does not parse');
  }
  const o = json as { default?: unknown; byWaba?: unknown };
  const def = typeof o.default === 'string' && o.default.length > 0 ? o.default : undefined;
  const byWaba = new Map<string, string>();
  if (o.byWaba !== undefined) {
    if (!o.byWaba || typeof o.byWaba !== 'object') throw new ConfigError('WHATSAPP_ACCESS_TOKEN byWaba must be an object');
    for (const [k, v] of Object.entries(o.byWaba)) {
      if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`WHATSAPP_ACCESS_TOKEN byWaba.${k} must be a token`);
      byWaba.set(k, v);
    }
  }
  if (!def && byWaba.size === 0) throw new ConfigError('WHATSAPP_ACCESS_TOKEN holds no token');
  return { default: def, byWaba };
};

/** Picks the client's own token when there is one, else the default. The secret text is re-read through `load`. */
export class SecretTokenProvider implements TokenProvider {
  constructor(private readonly load: () => Promise<string>) {}

  async tokenFor(wabaId: string): Promise<string> {
    const tokens = parseTokenSecret(await this.load());
    const token = tokens.byWaba.get(wabaId) ?? tokens.default;
    if (!token) throw new NoTokenError(`no Cloud API token for WABA ${wabaId} and no default token`);
    return token;
  }
}
