import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { readClientView } from '../core/client-view.js';
import { BadRequestError } from '../core/errors.js';
import type { ClientStore, Telemetry } from '../core/ports.js';
import { errorResponse, type HttpResult, json } from '../shared/http.js';

export interface StatusDeps {
  readonly store: Pick<ClientStore, 'getClient' | 'listTimeline' | 'oldestParkedAt'>;
  readonly telemetry: Telemetry;
  readonly reconnectSkewMs: number;
  /** A can-send probe ends a webhook-set OFFBOARDED (stage config). */
  readonly probeEndsOffboarding?: boolean;
  readonly now?: () => number;
}

const WABA_ID = /^[0-9A-Za-z_-]{1,64}$/;

/** `GET /clients/{wabaId}`: the client's status, message counters and recent timeline. */
export const createStatusHandler = (deps: StatusDeps) => async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  try {
    const wabaId = event.pathParameters?.wabaId ?? '';
    if (!WABA_ID.test(wabaId)) throw new BadRequestError('wabaId must be 1-64 letters, digits, "-" or "_"');
    const limit = Number(event.queryStringParameters?.timeline ?? 20);
    const timelineLimit = Number.isInteger(limit) && limit >= 0 && limit <= 100 ? limit : 20;
    const view = await readClientView(deps.store, wabaId, {
      skewMs: deps.reconnectSkewMs,
      nowMs: (deps.now ?? Date.now)(),
      timelineLimit: Math.max(1, timelineLimit),
      probeEndsOffboarding: deps.probeEndsOffboarding ?? false,
    });
    return json(200, view);
  } catch (error) {
    return errorResponse(error, deps.telemetry, { requestId: event.requestContext.requestId });
  }
};
