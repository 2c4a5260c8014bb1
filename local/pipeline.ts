import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { apiGatewayEvent } from './api-gateway-event.js';
import { CloudApiStandIn } from './cloud-api-stand-in.js';
import { lambdaContext } from './lambda-context.js';
import { quietRepeatedSweeps, routeJsonLogs } from './log-lines.js';
import { LocalSchedule, scheduledEvent } from './schedule.js';
import type { LambdaName } from '../lib/lambda-entry.js';
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';
import {
  ensureBucket,
  ensureConsumedQueue,
  ensureQueue,
  ensureTable,
  ensureTopic,
  localDynamo,
  localS3,
  localSns,
  localSqs,
  type RunningService,
  startDynamo,
  startFauxqs,
  subscribeQueue,
} from './services.js';
import { SqsEventSource } from './sqs-event-source.js';
import { LocalStreamSource } from './stream-source.js';
import { SqsObserver } from './sqs-observer.js';

type Env = Record<string, string | undefined>;

/** Development values used when a secret is not set. Printed at start; never used in AWS. */
export const DEV_SECRETS = {
  META_APP_SECRET: 'dev-app-secret',
  WEBHOOK_VERIFY_TOKEN: 'dev-verify-token',
  WHATSAPP_ACCESS_TOKEN: 'dev-access-token',
} as const;

/** A table and the consumed queues of their own, named after `tag`: for pipelines that share one pair of emulators. */
export const pipelineNames = (tag: string) => ({
  TABLE_NAME: `${tag}-table`,
  OUTBOUND_QUEUE_NAME: `${tag}-outbound`,
  DELAY_QUEUE_NAME: `${tag}-delay`,
  DEAD_LETTER_QUEUE_NAME: `${tag}-dlq`,
  INBOUND_EVENTS_QUEUE_NAME: `${tag}-inbound`,
  RELEASE_QUEUE_NAME: `${tag}-release`,
});

export const LOCAL_DEFAULTS = {
  PORT: '3000',
  AWS_REGION: 'us-east-1',
  TABLE_NAME: 'coexistence-relay',
  OUTBOUND_QUEUE_NAME: 'outbound',
  DELAY_QUEUE_NAME: 'outbound-delay',
  DEAD_LETTER_QUEUE_NAME: 'outbound-dead-letter',
  INBOUND_EVENTS_QUEUE_NAME: 'inbound-events',
  RELEASE_QUEUE_NAME: 'release',
  /** Where the webhook puts a change too large for one SQS message (created if missing, in fauxqs's S3). */
  INBOUND_BUCKET_NAME: 'coexistence-relay-inbound',
  RELAY_EVENTS_TOPIC_NAME: 'relay-events',
  /** Subscribed to the relay-events topic (raw delivery): what `npm run cli -- events tail` reads. */
  RELAY_EVENTS_TAIL_QUEUE_NAME: 'relay-events-tail',
  /** How often the sweeper runs (in AWS an EventBridge rule, every 5 minutes by default). */
  LOCAL_SWEEP_EVERY_SECONDS: '5',
  /** Pollers of the outbound queue, each one consumer instance (in AWS the event source scales them). */
  LOCAL_CONSUMER_POLLERS: '1',
  /**
   * Probe turns for a held client (in AWS 60 s doubling to 900 s, within 2% of Meta's management-call budget): short
   * enough that a number the stand-in accepts again is found within seconds, and at most 180 probes an hour for a real
   * number (3.6% of the budget).
   */
  PROBE_INTERVAL_SECONDS: '5',
  PROBE_MAX_INTERVAL_SECONDS: '20',
  PROBE_BUDGET_PERCENT: '20',
} as const;

/** The caller a reset records locally (in AWS: the IAM principal's ARN). */
const LOCAL_OPERATOR = 'local-operator';

/** Visibility timeout of the local queues: as in AWS, at least six times the consumer's 30 s budget is not needed here. */
const LOCAL_VISIBILITY_TIMEOUT_SECONDS = 30;

export interface PipelineInfo {
  readonly url: string;
  readonly dynamodbEndpoint: string;
  readonly dynamodbKind: string;
  readonly sqsEndpoint: string;
  /** The same SQS through the pass-through that logs decisions: the functions and the CLI send through it. */
  readonly sqsObservedEndpoint: string;
  /** fauxqs serves SNS on its SQS port; AWS_ENDPOINT_URL_SNS points elsewhere. */
  readonly snsEndpoint: string;
  /** fauxqs serves S3 on its SQS port too; AWS_ENDPOINT_URL_S3 points elsewhere. */
  readonly s3Endpoint: string;
  /** The bucket of changes too large for one SQS message (`valueRef` on the inbound-events queue). */
  readonly inboundBucket: string;
  /** The relay-events topic and the local queue subscribed to it. */
  readonly relayEvents: { readonly topicArn: string; readonly tailQueue: string };
  readonly cloudApiUrl: string;
  readonly cloudApiEmbedded: boolean;
  readonly tableName: string;
  readonly queues: {
    readonly outbound: string;
    readonly delay: string;
    readonly deadLetter: string;
    readonly inboundEvents: string;
    readonly release: string;
  };
  /** The redrive DLQ behind each consumed queue (`<queue name>-redrive-dlq`), as in the stack. */
  readonly redriveDlqs: { readonly outbound: string; readonly delay: string; readonly inboundEvents: string; readonly release: string };
  readonly secretsFromDefaults: readonly string[];
  /** The functions running here: every one the stack deploys. */
  readonly functions: readonly LambdaName[];
  /** The sweeper's local schedule. */
  readonly sweepEverySeconds: number;
  /** The tally function reads the table's stream (false on dynalite, which has none: the client counters stay 0). */
  readonly countersFromStream: boolean;
}

export interface RunningPipeline {
  readonly info: PipelineInfo;
  readonly cloudApi: CloudApiStandIn | undefined;
  stop(): Promise<void>;
}

type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/** Turns an HTTP request into the API Gateway HTTP API (payload 2.0) event Lambda receives in AWS. */
const toApiGatewayEvent = (req: IncomingMessage, body: Buffer, routeKey: string, pathParameters?: Record<string, string>): APIGatewayProxyEventV2 => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  return apiGatewayEvent({
    method: req.method ?? 'GET',
    path: url.pathname,
    routeKey,
    headers,
    query,
    rawQueryString: url.search.slice(1),
    ...(pathParameters ? { pathParameters } : {}),
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    // Bytes pass through untouched (base64), exactly as API Gateway does for binary bodies.
    ...(body.length > 0 ? { body, base64: true } : {}),
  });
};

const readBody = async (req: IncomingMessage, limit: number): Promise<Buffer | null> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
};

/** HTTP API's own payload limit; the webhook function answers 413 above Meta's 3 MB itself. */
const API_GATEWAY_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Starts the whole system on one machine: DynamoDB Local (or dynalite without Java) and fauxqs unless endpoints are
 * given, the real Lambda entry points behind an HTTP server and SQS pollers, and a Cloud API stand-in unless
 * `GRAPH_API_BASE_URL` is set.
 */
export const startPipeline = async (
  env: Env = process.env,
  log: (line: string) => void = (l) => console.log(l),
): Promise<RunningPipeline> => {
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    // The entry points' structured JSON logs become readable lines here (restored when the pipeline stops).
    const unroute = routeJsonLogs(quietRepeatedSweeps(log));
    started.push({ stop: async () => unroute() });
    const cfg = { ...LOCAL_DEFAULTS, ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) } as Env & typeof LOCAL_DEFAULTS;
    const port = Number(cfg.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT "${cfg.PORT}" is not a port number`);
    const sweepEverySeconds = Number(cfg.LOCAL_SWEEP_EVERY_SECONDS);
    if (!Number.isInteger(sweepEverySeconds) || sweepEverySeconds < 1 || sweepEverySeconds > 3600) {
      throw new Error(`LOCAL_SWEEP_EVERY_SECONDS "${cfg.LOCAL_SWEEP_EVERY_SECONDS}" is not a whole number of seconds from 1 to 3600`);
    }

    const consumerPollers = Number(cfg.LOCAL_CONSUMER_POLLERS);
    if (!Number.isInteger(consumerPollers) || consumerPollers < 1 || consumerPollers > 64) {
      throw new Error(`LOCAL_CONSUMER_POLLERS "${cfg.LOCAL_CONSUMER_POLLERS}" is not a whole number from 1 to 64`);
    }

    const secretsFromDefaults: string[] = [];
    for (const [name, value] of Object.entries(DEV_SECRETS)) {
      if (!cfg[name]) {
        cfg[name] = value;
        secretsFromDefaults.push(name);
      }
    }

    let dynamo: RunningService | undefined;
    let dynamodbEndpoint = cfg.AWS_ENDPOINT_URL_DYNAMODB;
    let dynamodbKind = 'external';
    if (!dynamodbEndpoint) {
      dynamo = await startDynamo();
      started.push(dynamo);
      dynamodbEndpoint = dynamo.endpoint;
      dynamodbKind = dynamo.kind;
    }
    let sqsEndpoint = cfg.AWS_ENDPOINT_URL_SQS;
    if (!sqsEndpoint) {
      const fauxqs = await startFauxqs();
      started.push(fauxqs);
      sqsEndpoint = fauxqs.endpoint;
    }

    let cloudApi: CloudApiStandIn | undefined;
    let cloudApiUrl = cfg.GRAPH_API_BASE_URL;
    if (!cloudApiUrl) {
      cloudApi = await new CloudApiStandIn().start();
      started.push(cloudApi);
      cloudApiUrl = cloudApi.url;
      cloudApi.onAccepted = (req, wamid) => {
        const body = req.body as { to?: string; type?: string; text?: { body?: string } };
        const what = body.type === 'text' && body.text?.body !== undefined ? JSON.stringify(body.text.body) : body.type ?? 'message';
        log(`cloud-api  accepted ${what} to ${body.to} from ${req.phoneNumberId} -> ${wamid}`);
      };
      const standIn = cloudApi;
      const baseRespond = standIn.respond;
      standIn.respond = (req) => {
        const reply = baseRespond(req);
        if (reply !== 'hang' && reply.status >= 400) {
          const code = (reply.body as { error?: { code?: number } }).error?.code;
          log(`cloud-api  refused a send from ${req.phoneNumberId} (HTTP ${reply.status}, code ${code ?? '?'})`);
        }
        return reply;
      };
      standIn.onProbe = (phoneNumberId, reply) => {
        const r = reply === 'hang' ? null : reply;
        const error = (r?.body as { error?: { code?: number; error_subcode?: number } } | undefined)?.error;
        log(`cloud-api  probe of ${phoneNumberId} -> ${r?.status ?? 'no answer'}${error ? ` (${error.code}${error.error_subcode ? `/${error.error_subcode}` : ''})` : ' (connected)'}`);
      };
      standIn.onRefusingChanged = (phoneNumberId, refusing) => {
        log(`cloud-api  ${phoneNumberId}: ${refusing ? `sends refused with ${refusing.code}, probes fail (as if offboarded)` : 'sends accepted again'}`);
      };
    }

    const snsEndpoint = cfg.AWS_ENDPOINT_URL_SNS ?? sqsEndpoint;
    const s3Endpoint = cfg.AWS_ENDPOINT_URL_S3 ?? sqsEndpoint;

    const region = cfg.AWS_REGION;
    const ddb = localDynamo(dynamodbEndpoint, region);
    const sqs: SQSClient = localSqs(sqsEndpoint, region);
    const sns = localSns(snsEndpoint, region);
    const s3 = localS3(s3Endpoint, region);
    started.push({
      stop: async () => {
        ddb.destroy();
        sqs.destroy();
        sns.destroy();
        s3.destroy();
      },
    });
    await ensureTable(ddb, cfg.TABLE_NAME);
    const inboundBucket = await ensureBucket(s3, cfg.INBOUND_BUCKET_NAME);
    // The same redrive policies as the stack: a message that keeps failing moves to `<queue>-redrive-dlq`.
    const consumed = (name: string) =>
      ensureConsumedQueue(sqs, { name, visibilityTimeoutSeconds: LOCAL_VISIBILITY_TIMEOUT_SECONDS, maxReceiveCount: DEFAULTS.maxReceiveCount });
    const outbound = await consumed(cfg.OUTBOUND_QUEUE_NAME);
    const delay = await consumed(cfg.DELAY_QUEUE_NAME);
    const inboundEvents = await consumed(cfg.INBOUND_EVENTS_QUEUE_NAME);
    const release = await consumed(cfg.RELEASE_QUEUE_NAME);
    const queues = {
      outbound: outbound.url,
      delay: delay.url,
      deadLetter: await ensureQueue(sqs, { name: cfg.DEAD_LETTER_QUEUE_NAME, visibilityTimeoutSeconds: LOCAL_VISIBILITY_TIMEOUT_SECONDS }),
      inboundEvents: inboundEvents.url,
      release: release.url,
    };
    // The functions reach SQS through a pass-through that prints their park, retry and dead-letter decisions.
    const observer = new SqsObserver(sqsEndpoint, queues, log);
    const functionsSqsEndpoint = await observer.start();
    started.push(observer);
    // Relay events: the topic the functions publish to, and a queue subscribed to it (raw delivery) for `events tail`.
    const relayEventsTopicArn = await ensureTopic(sns, cfg.RELAY_EVENTS_TOPIC_NAME);
    const tailQueue = await ensureQueue(sqs, { name: cfg.RELAY_EVENTS_TAIL_QUEUE_NAME, visibilityTimeoutSeconds: LOCAL_VISIBILITY_TIMEOUT_SECONDS });
    await subscribeQueue(sns, sqs, relayEventsTopicArn, tailQueue);
    const redriveDlqs = { outbound: outbound.redriveDlqUrl, delay: delay.redriveDlqUrl, inboundEvents: inboundEvents.redriveDlqUrl, release: release.redriveDlqUrl };

    // The Lambda entry points read their configuration from the environment at import, as in AWS.
    Object.assign(process.env, {
      AWS_REGION: region,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
      AWS_ENDPOINT_URL_SQS: functionsSqsEndpoint,
      AWS_ENDPOINT_URL_SNS: snsEndpoint,
      AWS_ENDPOINT_URL_S3: s3Endpoint,
      INBOUND_BUCKET_NAME: inboundBucket,
      RELAY_EVENTS_TOPIC_ARN: relayEventsTopicArn,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
      TABLE_NAME: cfg.TABLE_NAME,
      INBOUND_EVENTS_QUEUE_URL: queues.inboundEvents,
      OUTBOUND_QUEUE_URL: queues.outbound,
      DELAY_QUEUE_URL: queues.delay,
      DEAD_LETTER_QUEUE_URL: queues.deadLetter,
      RELEASE_QUEUE_URL: queues.release,
      GRAPH_API_BASE_URL: cloudApiUrl,
      META_APP_SECRET: cfg.META_APP_SECRET,
      WEBHOOK_VERIFY_TOKEN: cfg.WEBHOOK_VERIFY_TOKEN,
      WHATSAPP_ACCESS_TOKEN: cfg.WHATSAPP_ACCESS_TOKEN,
      // Local probe turns unless set (consumer, releaser and sweeper read them); the functions check their range.
      PROBE_INTERVAL_SECONDS: cfg.PROBE_INTERVAL_SECONDS,
      PROBE_MAX_INTERVAL_SECONDS: cfg.PROBE_MAX_INTERVAL_SECONDS,
      PROBE_BUDGET_PERCENT: cfg.PROBE_BUDGET_PERCENT,
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      // INFO: every decision the functions log (status changed, sent, released, ...) is one line locally.
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL || 'INFO',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    // The real entry points, each invoked with a Lambda context as in AWS (its request id goes on every log line):
    // every function the stack deploys (`satisfies` fails the build when one is added there and not here).
    const entries = {
      webhook: (await import('../lambdas/webhook/index.js')).handler,
      status: (await import('../lambdas/status/index.js')).handler,
      consumer: (await import('../lambdas/consumer/index.js')).handler,
      releaser: (await import('../lambdas/releaser/index.js')).handler,
      sweeper: (await import('../lambdas/sweeper/index.js')).handler,
      tally: (await import('../lambdas/tally/index.js')).handler,
    } satisfies Record<LambdaName, unknown>;
    const webhook: HttpHandler = (event) => entries.webhook(event, lambdaContext('webhook'));
    const status: HttpHandler = (event) => entries.status(event, lambdaContext('status'));
    const consumer: SqsHandler = (event) => entries.consumer(event, lambdaContext('consumer'));

    const releaser: SqsHandler = (event) => entries.releaser(event, lambdaContext('releaser'));
    const poller = (url: string, handler: SqsHandler) => new SqsEventSource(sqs, url, handler, (error) => log(`poller     ${(error as Error).message}`));
    // Releases of several clients run side by side, as concurrent Lambda instances would.
    const sources = [...Array.from({ length: consumerPollers }, () => poller(queues.outbound, consumer)), poller(queues.delay, consumer), ...Array.from({ length: 3 }, () => poller(queues.release, releaser))];
    for (const s of sources) {
      s.start();
      started.push(s);
    }
    // The sweeper on its rate rule: holds probed on their backoff, long offboardings probed, the offboarded index kept.
    const sweeps = new LocalSchedule(
      sweepEverySeconds,
      () => entries.sweeper(scheduledEvent('sweeper', region), lambdaContext('sweeper')),
      (error) => log(`sweeper    run failed; the next run tries again: ${(error as Error).message}`),
    ).start();
    started.push(sweeps);
    // The tally function on the table's stream, as its event source would call it (every second here).
    const stream = new LocalStreamSource(dynamodbEndpoint as string, cfg.TABLE_NAME, (event) => entries.tally(event, lambdaContext('tally')), (error) =>
      log(`tally      stream batch failed; delivered again: ${(error as Error).message}`),
    );
    const counting = await stream.start();
    started.push(stream);

    let ready = false;
    let info: PipelineInfo | undefined;
    const server: Server = createServer((req, res) => void route(req, res));
    const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const send = (r: APIGatewayProxyStructuredResultV2) => {
        res.writeHead(r.statusCode ?? 200, r.headers as Record<string, string>);
        res.end(r.body === undefined ? undefined : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8'));
      };
      try {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        const method = (req.method ?? 'GET').toUpperCase();
        if (path === '/healthz' && method === 'GET') {
          return send({ statusCode: ready ? 200 : 503, headers: { 'content-type': 'application/json' }, body: JSON.stringify(ready ? { ok: true, ...info } : { ok: false }) });
        }
        const body = await readBody(req, API_GATEWAY_MAX_BYTES);
        if (body === null) return send({ statusCode: 413, headers: { 'content-type': 'application/json' }, body: '{"message":"Request Entity Too Large"}' });
        if (path === '/webhook' && (method === 'GET' || method === 'POST')) {
          const r = await webhook(toApiGatewayEvent(req, body, `${method} /webhook`));
          log(`webhook    ${method} /webhook -> ${r.statusCode}${r.statusCode === 401 ? ' (signature rejected: not signed with the app secret)' : ''}`);
          return send(r);
        }
        const message = /^\/messages\/([^/]+)\/([^/]+)$/.exec(path);
        if (message && method === 'GET') {
          let pathParameters: Record<string, string>;
          try {
            pathParameters = { wabaId: decodeURIComponent(message[1] as string), messageId: decodeURIComponent(message[2] as string) };
          } catch {
            return send({ statusCode: 400, headers: { 'content-type': 'application/json' }, body: '{"message":"Bad Request"}' });
          }
          return send(await status(toApiGatewayEvent(req, body, 'GET /messages/{wabaId}/{messageId}', pathParameters)));
        }
        const client = /^\/clients\/([^/]+)(\/reset)?$/.exec(path);
        const clientRoute = client ? (client[2] ? 'POST /clients/{wabaId}/reset' : 'GET /clients/{wabaId}') : undefined;
        if (client && clientRoute?.startsWith(`${method} `)) {
          let wabaId: string;
          try {
            wabaId = decodeURIComponent(client[1] as string);
          } catch {
            // A malformed percent-encoding (`/clients/%E0%A4%A`) is the caller's mistake, as API Gateway answers it.
            return send({ statusCode: 400, headers: { 'content-type': 'application/json' }, body: '{"message":"Bad Request"}' });
          }
          const event = toApiGatewayEvent(req, body, clientRoute, { wabaId });
          // Locally every caller is the operator; in AWS the IAM authorizer names the signing principal.
          const authorized = { ...event, requestContext: { ...event.requestContext, authorizer: { iam: { userArn: LOCAL_OPERATOR } } } };
          return send(await status(authorized as APIGatewayProxyEventV2));
        }
        return send({ statusCode: 404, headers: { 'content-type': 'application/json' }, body: '{"message":"Not Found"}' });
      } catch (error) {
        log(`http       ${(error as Error).message}`);
        if (!res.headersSent) send({ statusCode: 500, headers: { 'content-type': 'application/json' }, body: '{"message":"Internal Server Error"}' });
      }
    };
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use; set PORT to another port`) : error),
      );
      server.listen(port, '127.0.0.1', () => resolve());
    });
    started.push({
      stop: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    });
    const actualPort = (server.address() as AddressInfo).port;
    info = {
      url: `http://127.0.0.1:${actualPort}`,
      dynamodbEndpoint,
      dynamodbKind,
      sqsEndpoint,
      sqsObservedEndpoint: functionsSqsEndpoint,
      snsEndpoint,
      s3Endpoint,
      inboundBucket,
      relayEvents: { topicArn: relayEventsTopicArn, tailQueue },
      cloudApiUrl,
      cloudApiEmbedded: cloudApi !== undefined,
      tableName: cfg.TABLE_NAME,
      queues,
      redriveDlqs,
      secretsFromDefaults,
      functions: Object.keys(entries) as LambdaName[],
      sweepEverySeconds,
      countersFromStream: counting,
    };
    if (cloudApi) {
      // Status webhooks the stand-in sends (`cloud-api statuses`) come back signed to this pipeline, as Meta's would.
      cloudApi.webhook = { url: `${info.url}/webhook`, secret: (cfg.META_APP_SECRET ?? '').split(',')[0]?.trim() ?? '' };
      cloudApi.onStatusSent = (wamid, st, httpStatus) => log(`cloud-api  status ${st} for ${wamid} -> webhook ${httpStatus ?? 'unreachable'}`);
    }
    ready = true;
    return { info, cloudApi, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
};
