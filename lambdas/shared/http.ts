import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  BadRequestError,
  ConfigError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  SignatureError,
} from '../core/shared/errors.js';
import type { Telemetry } from '../core/shared/telemetry.js';

export type HttpResult = APIGatewayProxyStructuredResultV2;

export const json = (statusCode: number, body: unknown): HttpResult => jsonText(statusCode, JSON.stringify(body));

/** A JSON answer whose text is already written (a constant answer is serialised once, not per request). */
export const jsonText = (statusCode: number, body: string): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body,
});

export const text = (statusCode: number, body: string): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body,
});

/** Raw request bytes, exactly as API Gateway received them. */
export const rawBody = (event: APIGatewayProxyEventV2): Buffer =>
  event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');

/**
 * The request body as received, without a copy when API Gateway passed it as text: that text (its UTF-8 bytes are the
 * bytes received), or the bytes of a base64 body.
 */
export const requestBody = (event: APIGatewayProxyEventV2): string | Buffer =>
  event.body !== undefined && !event.isBase64Encoded ? event.body : rawBody(event);

/** Header lookup that ignores case (HTTP API lower-cases names; other callers may not). */
export const header = (event: APIGatewayProxyEventV2, name: string): string | undefined => {
  const headers = event.headers;
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const k in headers) if (k.toLowerCase() === wanted && Object.hasOwn(headers, k)) return headers[k];
  return undefined;
};

/**
 * The one place that maps errors to HTTP answers. Known errors give their status and a short reason; anything
 * else is a 500 with nothing internal echoed (for the webhook, a 500 makes Meta deliver again).
 */
export const errorResponse = (error: unknown, telemetry: Telemetry, context: Record<string, unknown> = {}): HttpResult => {
  if (error instanceof SignatureError) return json(401, { error: 'invalid signature' });
  if (error instanceof BadRequestError) return json(400, { error: error.message });
  if (error instanceof ForbiddenError) return json(403, { error: 'forbidden' });
  if (error instanceof NotFoundError) return json(404, { error: 'not found' });
  if (error instanceof PayloadTooLargeError) return json(413, { error: 'payload too large' });
  // A ConfigError, like anything unknown, is never the caller's fault: a 500 whose message stays in the log.
  telemetry.error(error instanceof ConfigError ? 'request failed: configuration problem' : 'request failed', {
    ...context,
    errorName: error instanceof Error ? error.name : typeof error,
    errorMessage: error instanceof Error ? error.message : String(error),
  });
  return json(500, { error: 'internal error' });
};
