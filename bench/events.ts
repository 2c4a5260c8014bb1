import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A minimal API Gateway v2 POST /webhook event. HTTP APIs pass `application/json` bodies as text (base64 only for
 * binary media types), so the bytes arrive as UTF-8 text, exactly as Meta sent them.
 */
export const benchEvent = (body: Buffer, signature: string): APIGatewayProxyEventV2 => ({
  version: '2.0',
  routeKey: 'POST /webhook',
  rawPath: '/webhook',
  rawQueryString: '',
  headers: { 'x-hub-signature-256': signature, 'content-type': 'application/json' },
  requestContext: {
    accountId: '0',
    apiId: 'bench',
    domainName: 'bench',
    domainPrefix: 'bench',
    http: { method: 'POST', path: '/webhook', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
    requestId: 'bench',
    routeKey: 'POST /webhook',
    stage: '$default',
    time: '',
    timeEpoch: 0,
  },
  body: body.toString('utf8'),
  isBase64Encoded: false,
});
