import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/**
 * A local HTTP server that behaves like the Cloud API's send endpoint: `POST /{version}/{phone-number-id}/messages`.
 * By default it accepts every message; `respond` scripts other answers (errors, throttling, hanging requests).
 */
export class CloudApiStandIn {
  readonly requests: CloudApiRequest[] = [];
  /** TCP connections accepted so far (a client that reuses connections opens few). */
  connections = 0;
  respond: (req: CloudApiRequest) => CloudApiReply = (req) => accepted(String(req.body.to));
  onAccepted: (req: CloudApiRequest, wamid: string) => void = () => undefined;
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

  async stop(): Promise<void> {
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
    const match = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(req.url ?? '');
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
    const reply = this.respond(request);
    if (reply === 'hang') {
      this.#hanging.add(res);
      res.on('close', () => this.#hanging.delete(res));
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    const wamid = (reply.body as { messages?: { id: string }[] }).messages?.[0]?.id;
    if (reply.status < 300 && wamid) this.onAccepted(request, wamid);
  }
}
