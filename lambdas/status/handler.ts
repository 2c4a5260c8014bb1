import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { readClientView } from '../core/status/client-view.js';
import { DEFAULTS } from '../core/shared/defaults.js';
import { BadRequestError, NotFoundError } from '../core/shared/errors.js';
import { ID_RULE, isRelayId } from '../core/shared/ids.js';
import { parseResetRequest, resetClient } from '../core/status/operator-reset.js';
import { parseMessageKey, readMessageView } from '../core/outcomes/message-view.js';
import type { ClientStore } from '../core/status/ports.js';
import type { MessageOutcomeStore } from '../core/outcomes/ports.js';
import type { ReleaseRequester } from '../core/release/ports.js';
import type { Telemetry } from '../core/shared/telemetry.js';
import { errorResponse, type HttpResult, json, rawBody } from '../shared/http.js';

export interface StatusDeps {
  readonly store: Pick<ClientStore, 'getClient' | 'listTimeline' | 'parkedNow' | 'resetStatus' | 'putTimelineEntry'>;
  /** Message outcomes (`GET /messages/{wabaId}/{messageId}`); absent: that route answers 404. */
  readonly messages?: Pick<MessageOutcomeStore, 'read'>;
  readonly telemetry: Telemetry;
  readonly reconnectSkewMs: number;
  /** A can-send probe ends a webhook-set OFFBOARDED (stage config). */
  readonly probeEndsOffboarding?: boolean;
  readonly timelineRetentionDays?: number;
  /** How many customers of a client are in a human hold now (`humanHold` in the client view); absent: not shown. */
  readonly humanHeld?: (wabaId: string, nowMs: number) => Promise<number>;
  /** The release queue: a reset asks for the client's parked messages to be released. */
  readonly releases?: ReleaseRequester;
  readonly now?: () => number;
}

/** The IAM principal that signed the request (API Gateway's IAM authorizer puts it in the request context). */
const caller = (event: APIGatewayProxyEventV2): string => {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } }).authorizer?.iam;
  return typeof iam?.userArn === 'string' && iam.userArn !== '' ? iam.userArn : 'unknown';
};

/**
 * `GET /clients/{wabaId}`: the client's status, message counters and recent timeline.
 * `POST /clients/{wabaId}/reset`: an operator clears the client's status records (see `resetClient`).
 * `GET /messages/{wabaId}/{messageId}`: one message's outcome, wamid and history (see `message-view.ts`).
 */
export const createStatusHandler = (deps: StatusDeps) => async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  try {
    const messageId = event.pathParameters?.messageId;
    if (messageId !== undefined) {
      const key = parseMessageKey(event.pathParameters?.wabaId ?? '', messageId);
      if (!deps.messages) throw new NotFoundError('message outcomes are not configured');
      return json(200, await readMessageView(deps.messages, key));
    }
    const wabaId = event.pathParameters?.wabaId ?? '';
    if (!isRelayId(wabaId)) throw new BadRequestError(`wabaId ${ID_RULE}`);
    const limit = Number(event.queryStringParameters?.timeline ?? 20);
    const timelineLimit = Math.max(1, Number.isInteger(limit) && limit >= 0 && limit <= 100 ? limit : 20);
    const nowMs = (deps.now ?? Date.now)();
    if (event.requestContext.http.method.toUpperCase() === 'POST') {
      const request = parseResetRequest(rawBody(event).toString('utf8'));
      const by = caller(event);
      const view = await resetClient(deps.store, wabaId, {
        by,
        reason: request.reason,
        nowMs,
        skewMs: deps.reconnectSkewMs,
        timelineRetentionDays: deps.timelineRetentionDays ?? DEFAULTS.timelineRetentionDays,
        timelineLimit,
        ...(deps.releases ? { releases: deps.releases } : {}),
        telemetry: deps.telemetry,
      });
      deps.telemetry.count('ClientStatusResets');
      deps.telemetry.warn('client status reset by an operator', { wabaId, by, requestId: event.requestContext.requestId });
      return json(200, view);
    }
    const view = await readClientView(deps.store, wabaId, {
      skewMs: deps.reconnectSkewMs,
      nowMs,
      timelineLimit,
      probeEndsOffboarding: deps.probeEndsOffboarding ?? false,
    });
    if (!deps.humanHeld) return json(200, view);
    return json(200, { ...view, humanHold: { customers: await deps.humanHeld(wabaId, nowMs) } });
  } catch (error) {
    return errorResponse(error, deps.telemetry, { requestId: event.requestContext.requestId });
  }
};
