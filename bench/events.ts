import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { apiGatewayEvent } from '../local/api-gateway-event.js';

/**
 * A POST /webhook event. HTTP APIs pass `application/json` bodies as text (base64 only for binary media types), so
 * the bytes arrive as UTF-8 text, exactly as Meta sent them.
 */
export const benchEvent = (body: Buffer, signature: string): APIGatewayProxyEventV2 =>
  apiGatewayEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signature, 'content-type': 'application/json' } });
