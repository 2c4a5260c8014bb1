import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PARK_ATTRIBUTES } from '../lambdas/core/outbound/outbound-decision.js';

/** Set by `npm run cli -- dead-letters redrive` on each envelope it sends back (value: the dead-letter reason). */
export const REDRIVEN_ATTRIBUTE = 'relay-redriven';

export interface ObservedQueues {
  readonly outbound: string;
  readonly delay: string;
  readonly deadLetter: string;
}

interface SentMessage {
  readonly MessageBody?: string;
  readonly MessageAttributes?: Record<string, { StringValue?: string }>;
  readonly DelaySeconds?: number;
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

const field = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '?');
const json = (text: string | undefined): unknown => {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
};

/**
 * The decisions the functions take by sending a message (park, retry, dead-letter, and a redrive by the CLI), as
 * readable lines: the pipeline gives the functions this pass-through in front of the SQS endpoint and watches what
 * they send. Messages themselves go through unchanged.
 */
export class SqsObserver {
  #server: Server | undefined;
  /** The latest park count and send attempts seen per message id: a park and a retry both go to the delay queue. */
  readonly #seen = new Map<string, { parks: number; attempts: number }>();

  constructor(
    private readonly upstream: string,
    private readonly queues: ObservedQueues,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      void (async () => {
        try {
          const body = await readBody(req);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = Array.isArray(v) ? v.join(',') : v;
          const r = await fetch(`${this.upstream}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, ...(body.length > 0 ? { body } : {}) });
          const answer = Buffer.from(await r.arrayBuffer());
          const out: Record<string, string> = {};
          r.headers.forEach((v, k) => {
            if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
          });
          res.writeHead(r.status, out).end(answer);
          if (r.status === 200) this.#observe(String(req.headers['x-amz-target'] ?? ''), body, answer);
        } catch (error) {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end((error as Error).message);
        }
      })();
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #observe(target: string, body: Buffer, answer: Buffer): void {
    const request = json(body.toString('utf8'));
    const queueUrl = str(field(request, 'QueueUrl'));
    let sent: SentMessage[] = [];
    if (target.endsWith('.SendMessage')) sent = [request as SentMessage];
    else if (target.endsWith('.SendMessageBatch')) {
      const failed = new Set(((field(json(answer.toString('utf8')), 'Failed') as { Id?: string }[] | undefined) ?? []).map((f) => f.Id));
      sent = ((field(request, 'Entries') as (SentMessage & { Id?: string })[] | undefined) ?? []).filter((e) => !failed.has(e.Id));
    }
    for (const m of sent) {
      const line = this.#describe(queueUrl, m);
      if (line) this.log(line);
    }
  }

  #describe(queueUrl: string, m: SentMessage): string | null {
    const body = json(m.MessageBody);
    const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
    if (queueUrl === this.queues.deadLetter) {
      const env = field(body, 'envelope');
      const id = typeof env === 'object' ? str(field(env, 'messageId')) : '(unreadable body)';
      const waba = typeof env === 'object' ? str(field(env, 'wabaId')) : (attr('wabaId') ?? '?');
      return `relay      dead-lettered ${id} for WABA ${waba}: ${str(field(body, 'reason'))} (${str(field(body, 'detail'))})`;
    }
    if (queueUrl === this.queues.delay) {
      const id = str(field(body, 'messageId'));
      const now = { parks: Number(attr(PARK_ATTRIBUTES.parkCount) ?? 0), attempts: Number(attr(PARK_ATTRIBUTES.sendAttempts) ?? 0) };
      const before = this.#seen.get(id) ?? { parks: 0, attempts: 0 };
      this.#seen.set(id, now);
      const delay = m.DelaySeconds ?? 0;
      if (now.attempts > before.attempts) return `consumer   retrying ${id} for WABA ${str(field(body, 'wabaId'))} in ${delay} s (send attempt ${now.attempts} failed)`;
      return `consumer   parked ${id} for WABA ${str(field(body, 'wabaId'))} (park ${now.parks}, looks again in ${delay} s unless a release sends it first)`;
    }
    if (queueUrl === this.queues.outbound && attr(REDRIVEN_ATTRIBUTE) !== undefined) {
      return `cli        redriven ${str(field(body, 'messageId'))} for WABA ${str(field(body, 'wabaId'))} (was ${attr(REDRIVEN_ATTRIBUTE)}) back to the outbound queue`;
    }
    return null;
  }
}
