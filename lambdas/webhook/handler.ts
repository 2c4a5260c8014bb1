import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ClientStore } from '../core/status/ports.js';
import type { InboundEventSink } from '../core/webhook/ports.js';
import type { HumanReplyRecorder, PhoneOwnership } from '../core/outbound/ports.js';
import type { RelayEventPublisher } from '../core/outcomes/ports.js';
import type { ReleaseRequester } from '../core/release/ports.js';
import type { Telemetry } from '../core/shared/telemetry.js';
import { SIGNATURE_HEADER, SignatureVerifier } from '../core/webhook/signature.js';
import { WebhookService } from '../core/webhook/webhook-service.js';
import type { MessageOutcomeService } from '../core/outcomes/message-outcome-service.js';
import { errorResponse, type HttpResult, header, json, jsonText, requestBody, text } from '../shared/http.js';

/** What every stored POST answers. */
const RECEIVED = JSON.stringify({ received: true });

/** How often the handler asks for the secrets again (rotation takes effect within this plus the source's cache). */
export const SECRET_RECHECK_MS = 30_000;

export interface WebhookDeps {
  readonly store: ClientStore;
  readonly inbound: InboundEventSink;
  readonly releases: ReleaseRequester;
  /** Learns phone number ownership from `messages` changes. */
  readonly phones?: PhoneOwnership;
  /** The owner's replies from the app (`smb_message_echoes`), for the human hold. */
  readonly humanReplies?: HumanReplyRecorder;
  /** Message outcomes from status webhooks (`messages` field). */
  readonly outcomes?: MessageOutcomeService;
  /** Where `client.status_changed` relay events go (absent: none). */
  readonly events?: RelayEventPublisher;
  readonly telemetry: Telemetry;
  /** Current app secrets (comma-separated text allowed) and verify token; may rotate, so asked per request. */
  readonly secrets: () => Promise<{ readonly appSecrets: readonly string[]; readonly verifyToken: string }>;
  readonly reconnectSkewMs: number;
  readonly timelineRetentionDays: number;
  readonly now?: () => number;
}

/**
 * `GET /webhook` and `POST /webhook`. Thin: decode the API Gateway event, call the service, map the outcome.
 * The service is rebuilt only when a secret changes.
 */
export const createWebhookHandler = (deps: WebhookDeps) => {
  let cached: { key: string; service: WebhookService; checkedAt: number } | undefined;
  const clock = deps.now ?? Date.now;
  const service = async (): Promise<WebhookService> => {
    // Secrets are looked at again at most every SECRET_RECHECK_MS (their source caches them longer anyway).
    if (cached && clock() - cached.checkedAt < SECRET_RECHECK_MS) return cached.service;
    const s = await deps.secrets();
    const key = `${s.appSecrets.join('\u0000')}\u0001${s.verifyToken}`;
    if (cached?.key !== key) {
      cached = {
        key,
        checkedAt: clock(),
        service: new WebhookService({
          verifier: new SignatureVerifier(s.appSecrets),
          verifyToken: s.verifyToken,
          store: deps.store,
          inbound: deps.inbound,
          releases: deps.releases,
          phones: deps.phones,
          outcomes: deps.outcomes,
          humanReplies: deps.humanReplies,
          ...(deps.events ? { events: deps.events } : {}),
          telemetry: deps.telemetry,
          reconnectSkewMs: deps.reconnectSkewMs,
          timelineRetentionDays: deps.timelineRetentionDays,
          ...(deps.now ? { now: deps.now } : {}),
        }),
      };
    } else {
      cached.checkedAt = clock();
    }
    return cached.service;
  };

  return async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const method = event.requestContext.http.method.toUpperCase();
    try {
      if (method === 'GET') {
        return text(200, (await service()).verifySubscription(event.queryStringParameters ?? {}));
      }
      if (method === 'POST') {
        const summary = await (await service()).receive(requestBody(event), header(event, SIGNATURE_HEADER));
        // Object.assign, not `{ ...summary, requestId }`: the same keys in the same order, without V8's slow path for a
        // spread followed by another key (~0.7 us on Node 20).
        const fields: Record<string, unknown> = {};
        deps.telemetry.info('webhook stored', Object.assign(fields, summary, { requestId: event.requestContext.requestId }));
        return jsonText(200, RECEIVED);
      }
      return json(405, { error: 'method not allowed' });
    } catch (error) {
      return errorResponse(error, deps.telemetry, { requestId: event.requestContext.requestId, method });
    }
  };
};
