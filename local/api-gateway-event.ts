import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export interface ApiGatewayEventInit {
  readonly method: string;
  readonly path: string;
  readonly routeKey?: string;
  readonly body?: string | Buffer;
  /** Pass the body base64-encoded, as API Gateway does for binary media types. */
  readonly base64?: boolean;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly rawQueryString?: string;
  readonly pathParameters?: Record<string, string>;
  readonly sourceIp?: string;
}

/**
 * The API Gateway HTTP API (payload format 2.0) event Lambda receives in AWS. One builder for the local pipeline,
 * the tests and the benchmark.
 */
export const apiGatewayEvent = (init: ApiGatewayEventInit): APIGatewayProxyEventV2 => {
  const method = init.method.toUpperCase();
  const routeKey = init.routeKey ?? `${method} ${init.path}`;
  const headers = init.headers ?? {};
  const raw = init.body === undefined ? undefined : Buffer.isBuffer(init.body) ? init.body : Buffer.from(init.body);
  const query = init.query && Object.keys(init.query).length > 0 ? init.query : undefined;
  return {
    version: '2.0',
    routeKey,
    rawPath: init.path,
    rawQueryString: init.rawQueryString ?? new URLSearchParams(init.query ?? {}).toString(),
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    ...(init.pathParameters ? { pathParameters: init.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: init.path, protocol: 'HTTP/1.1', sourceIp: init.sourceIp ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: raw !== undefined && (init.base64 ?? false),
    ...(raw ? { body: init.base64 ? raw.toString('base64') : raw.toString('utf8') } : {}),
  };
};
