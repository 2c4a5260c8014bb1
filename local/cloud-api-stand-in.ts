import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signBody } from '../lambdas/core/webhook/signature.js';

export interface CloudApiRequest {
  readonly phoneNumberId: string;
  readonly version: string;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

/** What the stand-in answers: a status and JSON body, or `hang` (never answers, like a stalled connection). */
export type CloudApiReply = { readonly status: number; readonly body: unknown } | 'hang';

export const accepted = (to: string): CloudApiReply => ({
  status: 200,
  body: { messaging_product: 'whatsapp', contacts: [{ input: to, wa_id: to }], messages: [{ id: `wamid.${randomUUID().replace(/-/g, '')}` }] },
});

export const metaError = (status: number, code: number, message: string, subcode?: number): CloudApiReply => ({
  status,
  body: {
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(subcode !== undefined ? { error_subcode: subcode } : {}),
      error_data: { messaging_product: 'whatsapp', details: message },
      fbtrace_id: `trace-${randomUUID().slice(0, 8)}`,
    },
  },
});

/** What a number answers while the stand-in treats it as offboarded (`refuseNumber`). */
export interface Refusing {
  readonly code: number;
  readonly subcode?: number;
}

/** The phone number node of a connected coexistence number, as a probe reads it. */
const connectedNumber = (phoneNumberId: string): CloudApiReply => ({
  status: 200,
  body: {
    id: phoneNumberId,
    is_on_biz_app: true,
    platform_type: 'CLOUD_API',
    status: 'CONNECTED',
    code_verification_status: 'VERIFIED',
    throughput: { level: 'STANDARD' },
    health_status: { can_send_message: 'AVAILABLE', entities: [{ entity_type: 'PHONE_NUMBER', id: phoneNumberId, can_send_message: 'AVAILABLE' }] },
  },
});

/** How the stand-in refuses sends from a number it treats as offboarded (the reference's "may mean offboarded" row). */
const refusedSend = (r: Refusing): CloudApiReply =>
  metaError(400, r.code, r.code === 100 ? 'Unsupported post request' : 'Account not registered', r.subcode);

/** A probe of a number off the Cloud API: reading the node fails with 100/33 (secondary sources). */
const unreadableNumber = (): CloudApiReply => metaError(400, 100, 'Unsupported get request', 33);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const CONTROL = /^\/_stand-in\/numbers\/([^/]+)$/;

/** The status webhooks the stand-in sends for a number's accepted messages, like Meta does after the 200. */
export type StatusPlan =
  | { readonly until: 'sent' | 'delivered' | 'read'; readonly wabaId?: string }
  /** `sent`, then `failed` with this error code (131047: the 24-hour window closed). */
  | { readonly fail: number; readonly wabaId?: string };

const STATUS_STEPS = ['sent', 'delivered', 'read'] as const;

/** Meta's title for the error codes the stand-in fails messages with. */
const ERROR_TITLES: Readonly<Record<number, string>> = {
  131047: 'Re-engagement message',
  131026: 'Message undeliverable',
  131049: 'This message was not delivered to maintain healthy ecosystem engagement.',
};

/** A signed POST of a body to the relay's webhook (what Meta's delivery does). */
export interface WebhookTarget {
  readonly url: string;
  readonly secret: string;
}

/** The WABA a status belongs to: the plan's, else the one the relay's callback data names (`cxr1.<wabaId>.<...>`). */
const wabaOf = (plan: StatusPlan, callbackData: unknown): string | undefined =>
  plan.wabaId ?? (typeof callbackData === 'string' && callbackData.startsWith('cxr1.') ? callbackData.split('.')[1] : undefined);

/**
 * A local HTTP server that behaves like the Cloud API for the relay: sends (`POST /{version}/{phone-number-id}/messages`)
 * and number probes (`GET /{version}/{phone-number-id}?fields=...`). By default it accepts every message and shows
 * every number connected; `refuseNumber` (or `POST /_stand-in/numbers/{id}` with `{"refuse": true, "code": 133010}`,
 * what the CLI's `cloud-api refuse` does) makes a number behave as an offboarded one until `acceptNumber`.
 * `respond` and `probeReply` script other answers (errors, throttling, hanging requests). With a `webhook` target and a
 * number's `statusPlans` entry (`POST /_stand-in/numbers/{id}` with `{"statuses": {"until": "read"}}` or
 * `{"statuses": {"fail": 131047}}`, what the CLI's `cloud-api statuses` does), each accepted message gets Meta's status
 * webhooks, signed and posted in order.
 */
export class CloudApiStandIn {
  readonly requests: CloudApiRequest[] = [];
  /** Probes received, in arrival order. */
  readonly probes: { readonly phoneNumberId: string; readonly version: string; readonly fields: string; readonly authorization: string | undefined; readonly at: number }[] = [];
  /** Numbers treated as offboarded, with the error their sends get. */
  readonly refusing = new Map<string, Refusing>();
  /** TCP connections accepted so far (a client that reuses connections opens few). */
  connections = 0;
  /**
   * Milliseconds every send and probe waits before its answer (0: at once). The real Cloud API answers a send in
   * about 150 ms; the bench's per-instance figures use this (`new CloudApiStandIn({ latencyMs: 150 })`).
   */
  latencyMs: number;

  constructor(options: { readonly latencyMs?: number } = {}) {
    this.latencyMs = options.latencyMs ?? 0;
  }
  respond: (req: CloudApiRequest) => CloudApiReply = (req) => {
    const refusing = this.refusing.get(req.phoneNumberId);
    return refusing ? refusedSend(refusing) : accepted(String(req.body.to));
  };
  probeReply: (phoneNumberId: string) => CloudApiReply = (id) => (this.refusing.has(id) ? unreadableNumber() : connectedNumber(id));
  onAccepted: (req: CloudApiRequest, wamid: string) => void = () => undefined;
  onProbe: (phoneNumberId: string, reply: CloudApiReply) => void = () => undefined;
  onRefusingChanged: (phoneNumberId: string, refusing: Refusing | null) => void = () => undefined;
  /** Numbers whose accepted messages get status webhooks, and which (none by default). */
  readonly statusPlans = new Map<string, StatusPlan>();
  /** Where status webhooks go (the local pipeline sets its webhook URL and app secret). */
  webhook: WebhookTarget | undefined;
  onStatusSent: (wamid: string, status: string, httpStatus: number | null) => void = () => undefined;
  /** Status webhooks in flight (tests wait for them). */
  readonly #pending = new Set<Promise<void>>();

  refuseNumber(phoneNumberId: string, refusing: Refusing = { code: 133010 }): void {
    this.refusing.set(phoneNumberId, refusing);
    this.onRefusingChanged(phoneNumberId, refusing);
  }

  acceptNumber(phoneNumberId: string): void {
    this.refusing.delete(phoneNumberId);
    this.onRefusingChanged(phoneNumberId, null);
  }
  #server: Server | undefined;
  readonly #hanging = new Set<ServerResponse>();

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null;
    if (!address) throw new Error('stand-in not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(port = 0): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 5_000;
    this.#server.on('connection', () => {
      this.connections++;
    });
    await new Promise<void>((resolve) => this.#server?.listen(port, '127.0.0.1', resolve));
    return this;
  }

  /** Resolves once every status webhook scheduled so far was posted. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async stop(): Promise<void> {
    await this.settled();
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const control = CONTROL.exec(url.pathname);
    if (control && req.method === 'POST') {
      this.#control(decodeURIComponent(control[1] as string), Buffer.concat(chunks), res);
      return;
    }
    const node = /^\/(v\d+\.\d+)\/([^/]+)$/.exec(url.pathname);
    if (node && req.method === 'GET') {
      const phoneNumberId = decodeURIComponent(node[2] as string);
      this.probes.push({ phoneNumberId, version: node[1] as string, fields: url.searchParams.get('fields') ?? '', authorization: req.headers.authorization, at: Date.now() });
      if (this.latencyMs > 0) await sleep(this.latencyMs);
      const reply = this.probeReply(phoneNumberId);
      if (reply === 'hang') {
        this.#hanging.add(res);
        res.on('close', () => this.#hanging.delete(res));
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      this.onProbe(phoneNumberId, reply);
      return;
    }
    const match = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 803, message: 'Unknown path' } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 100, message: 'Invalid JSON' } }));
      return;
    }
    const request: CloudApiRequest = {
      phoneNumberId: decodeURIComponent(match[2] as string),
      version: match[1] as string,
      authorization: req.headers.authorization,
      body,
      at: Date.now(),
    };
    this.requests.push(request);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const reply = this.respond(request);
    if (reply === 'hang') {
      this.#hanging.add(res);
      res.on('close', () => this.#hanging.delete(res));
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    const wamid = (reply.body as { messages?: { id: string }[] }).messages?.[0]?.id;
    if (reply.status < 300 && wamid) {
      this.onAccepted(request, wamid);
      this.#scheduleStatuses(request, wamid);
    }
  }

  /** Posts the plan's statuses for an accepted message, in order, one second apart in Meta's timestamps. */
  #scheduleStatuses(request: CloudApiRequest, wamid: string): void {
    const plan = this.statusPlans.get(request.phoneNumberId);
    const target = this.webhook;
    if (!plan || !target) return;
    const callbackData = request.body.biz_opaque_callback_data;
    const wabaId = wabaOf(plan, callbackData);
    if (!wabaId) return;
    // A closed window (131047) stops free-form messages only: a template still goes through, as with Meta.
    const fails = 'fail' in plan && !(plan.fail === 131047 && request.body.type === 'template');
    const steps: string[] = fails ? ['sent', 'failed'] : 'until' in plan ? STATUS_STEPS.slice(0, STATUS_STEPS.indexOf(plan.until) + 1) : [...STATUS_STEPS];
    const t0 = Math.floor(Date.now() / 1000);
    const run = (async () => {
      for (const [i, status] of steps.entries()) {
        // As Meta names the person: by phone number when the send had `to`, else by the BSUID it was sent to.
        const recipient = typeof request.body.to === 'string' ? { recipient_id: request.body.to } : { recipient_user_id: String(request.body.recipient) };
        const item: Record<string, unknown> = { id: wamid, status, timestamp: String(t0 + i), ...recipient };
        if (status === 'failed' && 'fail' in plan) {
          const title = ERROR_TITLES[plan.fail] ?? 'Message failed';
          item.errors = [{ code: plan.fail, title, message: title, error_data: { details: title } }];
        } else {
          item.conversation = { id: `conv-${wamid.slice(-12)}`, origin: { type: 'service' } };
          item.pricing = { billable: true, pricing_model: 'PMP', category: 'service', type: 'regular' };
        }
        if (typeof callbackData === 'string') item.biz_opaque_callback_data = callbackData;
        const body = Buffer.from(
          JSON.stringify({
            object: 'whatsapp_business_account',
            entry: [{ id: wabaId, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550000000', phone_number_id: request.phoneNumberId }, statuses: [item] } }] }],
          }),
        );
        const r = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, target.secret) }, body }).catch(() => null);
        await r?.text();
        this.onStatusSent(wamid, status, r?.status ?? null);
      }
    })();
    this.#pending.add(run);
    void run.finally(() => this.#pending.delete(run));
  }

  /** `POST /_stand-in/numbers/{id}` `{"refuse": true, "code"?: n, "subcode"?: n}` or `{"refuse": false}`. */
  #control(phoneNumberId: string, raw: Buffer, res: ServerResponse): void {
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    let body: { refuse?: unknown; code?: unknown; subcode?: unknown; statuses?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      answer(400, { message: 'body must be JSON: {"refuse": true|false, "code"?: number, "subcode"?: number} or {"statuses": {...} | null}' });
      return;
    }
    if (body && typeof body === 'object' && 'statuses' in body) {
      const plan = body.statuses as { until?: unknown; fail?: unknown; wabaId?: unknown } | null;
      const wabaId = typeof plan?.wabaId === 'string' && plan.wabaId !== '' ? { wabaId: plan.wabaId } : {};
      if (plan === null) this.statusPlans.delete(phoneNumberId);
      else if (typeof plan === 'object' && (plan.until === 'sent' || plan.until === 'delivered' || plan.until === 'read')) this.statusPlans.set(phoneNumberId, { until: plan.until, ...wabaId });
      else if (typeof plan === 'object' && Number.isInteger(plan.fail) && (plan.fail as number) > 0) this.statusPlans.set(phoneNumberId, { fail: plan.fail as number, ...wabaId });
      else {
        answer(400, { message: '"statuses" must be null, {"until": "sent"|"delivered"|"read"} or {"fail": <code>}, with an optional "wabaId"' });
        return;
      }
      answer(200, { phoneNumberId, statuses: this.statusPlans.get(phoneNumberId) ?? null });
      return;
    }
    const int = (v: unknown) => (v === undefined ? undefined : Number.isInteger(v) && (v as number) > 0 ? (v as number) : null);
    const code = int(body?.code);
    const subcode = int(body?.subcode);
    if (typeof body?.refuse !== 'boolean' || code === null || subcode === null) {
      answer(400, { message: '"refuse" must be true or false; "code" and "subcode" positive integers' });
      return;
    }
    if (body.refuse) this.refuseNumber(phoneNumberId, { code: code ?? 133010, ...(subcode !== undefined ? { subcode } : {}) });
    else this.acceptNumber(phoneNumberId);
    answer(200, { phoneNumberId, refusing: this.refusing.get(phoneNumberId) ?? null });
  }
}
