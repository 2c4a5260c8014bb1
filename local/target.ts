/**
 * What a CLI command talks to: the local pipeline (`npm start`) or a deployed stack, found by its CloudFormation
 * outputs (`--stage`/`--stack` through DescribeStacks with the caller's AWS credentials, or `--outputs <file>`, the
 * file `cdk deploy --outputs-file` writes). Every command reads the same {@link RelayTarget}, so a command written
 * for the local pipeline works against a stack too.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { z } from 'zod';
import { Sha256 } from '../lambdas/adapters/sha256.js';
import { CLIENT_STATUS_ROUTE, STACK_OUTPUTS, stackNameOf } from '../lib/stack-outputs.js';
import { CliError } from './cli/errors.js';
import { readJsonFile } from './cli/json.js';
import type { PipelineInfo } from './pipeline.js';
import { localDynamo, localS3, localSqs } from './services.js';

type Env = Record<string, string | undefined>;


export interface TargetOptions {
  /** The local pipeline's URL. */
  readonly url: string;
  readonly stage?: string | undefined;
  readonly stack?: string | undefined;
  readonly outputs?: string | undefined;
}

export interface RelayTarget {
  readonly kind: 'local' | 'stack';
  /** For messages: `the local pipeline at http://...` or `stack CoexistenceRelay-dev`. */
  readonly name: string;
  /** Calls the status API (`/clients/...`): plain HTTP locally, SigV4-signed (IAM route) against a stack. */
  api(method: 'GET' | 'POST', path: string, body?: string): Promise<Response>;
  /** The queue URL, or a CliError naming what is missing. */
  queue(name: 'outbound' | 'deadLetter' | 'inboundEvents'): Promise<string>;
  tableName(): Promise<string>;
  sqs(): Promise<SQSClient>;
  dynamo(): Promise<DynamoDBClient>;
  /** Reads the objects `valueRef` points at (inbound changes too large for one SQS message). */
  s3(): Promise<S3Client>;
  /** The local pipeline's description (local only: the Cloud API stand-in lives there). */
  pipeline(): Promise<PipelineInfo>;
  destroy(): void;
}

const notRunning = (url: string) => new CliError(`no pipeline answers at ${url}; start it with "npm start" or pass --url (or --stage for a deployed stack)`);

/** The local pipeline; its description (`/healthz`) is fetched once, when a command first needs a queue or table. */
const localTarget = (url: string, fetchFn: typeof fetch): RelayTarget => {
  let info: Promise<PipelineInfo> | undefined;
  const clients: { destroy(): void }[] = [];
  const pipeline = (): Promise<PipelineInfo> => {
    info ??= (async () => {
      const r = await fetchFn(`${url}/healthz`).catch(() => {
        throw notRunning(url);
      });
      if (!r.ok) throw new CliError(`the pipeline at ${url} is not ready (healthz ${r.status})`);
      return (await r.json()) as PipelineInfo;
    })();
    return info;
  };
  const track = <T extends { destroy(): void }>(c: T): T => {
    clients.push(c);
    return c;
  };
  return {
    kind: 'local',
    name: `the local pipeline at ${url}`,
    api: (method, path, body) =>
      fetchFn(`${url}${path}`, { method, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) }).catch(() => {
        throw notRunning(url);
      }),
    queue: async (name) => (await pipeline()).queues[name],
    tableName: async () => (await pipeline()).tableName,
    // Through the pipeline's pass-through when it has one, so its log shows what the CLI sends (a redrive).
    sqs: async () => {
      const p = await pipeline();
      return track(localSqs(p.sqsObservedEndpoint ?? p.sqsEndpoint));
    },
    dynamo: async () => track(localDynamo((await pipeline()).dynamodbEndpoint)),
    s3: async () => track(localS3((await pipeline()).s3Endpoint)),
    pipeline,
    destroy: () => {
      for (const c of clients) c.destroy();
    },
  };
};

/** `cdk deploy --outputs-file` writes `{ "<stack name>": { "<output>": "<value>" } }`. */
const OutputsFile = z.record(z.string(), z.record(z.string(), z.string()));

const fromOutputsFile = async (path: string, wanted: string | undefined): Promise<{ stackName: string; outputs: Record<string, string> }> => {
  const parsed = await readJsonFile(path, OutputsFile, '--outputs', 'not the JSON `cdk deploy --outputs-file` writes');
  const names = Object.keys(parsed);
  const stackName = wanted ?? (names.length === 1 ? names[0] : undefined);
  if (!stackName) throw new CliError(`--outputs ${path} describes ${names.length} stacks (${names.join(', ') || 'none'}); choose one with --stage or --stack`);
  const outputs = parsed[stackName];
  if (!outputs) throw new CliError(`--outputs ${path} has no stack ${stackName} (it has: ${names.join(', ')})`);
  return { stackName, outputs };
};

const fromCloudFormation = async (stackName: string, env: Env): Promise<Record<string, string>> => {
  const cfn = new CloudFormationClient({ ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}), maxAttempts: 3 });
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack) throw new CliError(`CloudFormation knows no stack ${stackName}`);
    return Object.fromEntries((stack.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue !== undefined ? [[o.OutputKey, o.OutputValue]] : [])));
  } catch (error) {
    if (error instanceof CliError) throw error;
    const message = (error as Error).message;
    throw new CliError(`cannot read stack ${stackName} from CloudFormation: ${message} (check the AWS credentials, AWS_REGION, and the --stage/--stack name)`);
  } finally {
    cfn.destroy();
  }
};

/** An explicit endpoint when one is configured (local emulators): the SQS client then ignores the queue URL's host. */
const sqsFor = (region: string, env: Env): SQSClient =>
  new SQSClient({ region, maxAttempts: 3, ...(env.AWS_ENDPOINT_URL_SQS ? { endpoint: env.AWS_ENDPOINT_URL_SQS, useQueueUrlAsEndpoint: false } : {}) });

const regionOfQueueUrl = (url: string | undefined): string | undefined => (url ? /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1] : undefined);

const stackTarget = (stackName: string, outputs: Record<string, string>, env: Env, fetchFn: typeof fetch): RelayTarget => {
  const output = (key: string): string => {
    const v = outputs[key];
    if (!v) throw new CliError(`stack ${stackName} has no output ${key} (deploy the current version of the stack)`);
    return v;
  };
  const region = outputs[STACK_OUTPUTS.region] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionOfQueueUrl(outputs[STACK_OUTPUTS.outboundQueueUrl]);
  const needRegion = (): string => {
    if (!region) throw new CliError(`stack ${stackName}: no Region output; set AWS_REGION`);
    return region;
  };
  const clients: { destroy(): void }[] = [];
  const track = <T extends { destroy(): void }>(c: T): T => {
    clients.push(c);
    return c;
  };
  const credentials = defaultProvider();
  return {
    kind: 'stack',
    name: `stack ${stackName}`,
    api: async (method, path, body) => {
      const statusUrl = output(STACK_OUTPUTS.clientStatusUrl);
      if (!statusUrl.endsWith(CLIENT_STATUS_ROUTE)) throw new CliError(`stack ${stackName}: ${STACK_OUTPUTS.clientStatusUrl} does not end with ${CLIENT_STATUS_ROUTE}`);
      const url = new URL(`${statusUrl.slice(0, -CLIENT_STATUS_ROUTE.length)}${path}`);
      const signer = new SignatureV4({ service: 'execute-api', region: needRegion(), credentials, sha256: Sha256 });
      const headers: Record<string, string> = { host: url.host, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
      let signed: { headers: Record<string, string> };
      try {
        signed = await signer.sign({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          ...(body !== undefined ? { body } : {}),
        });
      } catch (error) {
        throw new CliError(`cannot sign the request to ${stackName}: ${(error as Error).message} (no AWS credentials?)`);
      }
      const { host: _host, ...sendHeaders } = signed.headers;
      return fetchFn(url, { method, headers: sendHeaders, ...(body !== undefined ? { body } : {}) }).catch((error: Error) => {
        throw new CliError(`${url.origin} does not answer: ${error.message}`);
      });
    },
    queue: async (name) =>
      output({ outbound: STACK_OUTPUTS.outboundQueueUrl, deadLetter: STACK_OUTPUTS.deadLetterQueueUrl, inboundEvents: STACK_OUTPUTS.inboundEventsQueueUrl }[name]),
    tableName: async () => output(STACK_OUTPUTS.tableName),
    sqs: async () => track(sqsFor(needRegion(), env)),
    dynamo: async () =>
      track(new DynamoDBClient({ region: needRegion(), maxAttempts: 3, ...(env.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: env.AWS_ENDPOINT_URL_DYNAMODB } : {}) })),
    s3: async () =>
      track(new S3Client({ region: needRegion(), maxAttempts: 3, ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3, forcePathStyle: true } : {}) })),
    pipeline: async () => {
      throw new CliError(`this command drives the local pipeline only, not ${stackName}`);
    },
    destroy: () => {
      for (const c of clients) c.destroy();
    },
  };
};

/**
 * The target of a command: a stack when `--stage`, `--stack` or `--outputs` is given, else the local pipeline.
 * `--outputs` reads the file; otherwise CloudFormation describes the stack (`--stage dev` is `CoexistenceRelay-dev`).
 */
export const resolveTarget = async (o: TargetOptions, env: Env, fetchFn: typeof fetch): Promise<RelayTarget> => {
  if (o.stage !== undefined && o.stack !== undefined) throw new CliError('give --stage or --stack, not both');
  const named = o.stack ?? (o.stage !== undefined ? stackNameOf(o.stage) : undefined);
  if (o.outputs !== undefined) {
    const { stackName, outputs } = await fromOutputsFile(o.outputs, named);
    return stackTarget(stackName, outputs, env, fetchFn);
  }
  if (named !== undefined) return stackTarget(named, await fromCloudFormation(named, env), env, fetchFn);
  return localTarget(o.url, fetchFn);
};
