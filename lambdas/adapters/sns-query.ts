import { SignatureV4 } from '@smithy/signature-v4';

/**
 * SNS PublishBatch over SNS's query protocol, signed with the SDK's own SigV4 signer, with credentials from a client the
 * function already has (and its SHA-256). Why not `@aws-sdk/client-sns`: its client pulls every SNS error class and schema into each
 * bundle (+22 KB), which takes the webhook, consumer and releaser over their 500 KiB budget; this needs ~3 KB, because
 * the signer and the credential chain are already bundled with the SQS and DynamoDB clients.
 */

export interface PublishEntry {
  readonly Id: string;
  readonly Message: string;
  /** String attributes only: that is all the relay sets. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PublishBatchAnswer {
  readonly successful: readonly string[];
  readonly failed: readonly { readonly id: string; readonly code: string; readonly message: string; readonly senderFault: boolean }[];
}

/** A PublishBatch request SNS (or the network) refused as a whole. `clientFault`: a retry cannot help. */
export class SnsRequestError extends Error {
  override readonly name = 'SnsRequestError';
  constructor(
    message: string,
    readonly code: string,
    readonly clientFault: boolean,
  ) {
    super(message);
  }
}

/** What the relay-events publisher needs of SNS. */
export interface SnsBatchSender {
  publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchAnswer>;
}

type Credentials = { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
/** The SHA-256 implementation the signer uses: an SDK client's own (`client.config.sha256`), already bundled. */
export type Sha256Constructor = ConstructorParameters<typeof SignatureV4>[0]['sha256'];

const XML_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const unescapeXml = (s: string): string => s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => XML_ENTITIES[e] ?? '');
const tag = (xml: string, name: string): string | undefined => {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? unescapeXml(m[1] as string) : undefined;
};
const members = (xml: string | undefined): string[] => (xml ? [...xml.matchAll(/<member>([\s\S]*?)<\/member>/g)].map((m) => m[1] as string) : []);
const section = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];

/** Error codes SNS answers with a 4xx status that a retry may still fix. */
const RETRYABLE_CODES = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'KMSThrottling', 'RequestTimeout']);

/** SNS's regional endpoint (China regions under amazonaws.com.cn). */
export const snsEndpointFor = (region: string): string => `https://sns.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;

export class SnsQueryClient implements SnsBatchSender {
  readonly #signer: SignatureV4;
  readonly #url: URL;

  constructor(
    region: string,
    credentials: () => Promise<Credentials>,
    sha256: Sha256Constructor,
    endpoint: string | undefined,
    private readonly timeoutMs = 5_000,
  ) {
    this.#url = new URL(endpoint ?? snsEndpointFor(region));
    this.#signer = new SignatureV4({ service: 'sns', region, credentials, sha256 });
  }

  async publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchAnswer> {
    const form = new URLSearchParams({ Action: 'PublishBatch', Version: '2010-03-31', TopicArn: topicArn });
    entries.forEach((e, i) => {
      const p = `PublishBatchRequestEntries.member.${i + 1}`;
      form.set(`${p}.Id`, e.Id);
      form.set(`${p}.Message`, e.Message);
      Object.entries(e.attributes).forEach(([name, value], j) => {
        const a = `${p}.MessageAttributes.entry.${j + 1}`;
        form.set(`${a}.Name`, name);
        form.set(`${a}.Value.DataType`, 'String');
        form.set(`${a}.Value.StringValue`, value);
      });
    });
    const body = form.toString();
    const url = this.#url;
    const signed = await this.#signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname || '/',
      query: {},
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    });
    let status: number;
    let xml: string;
    try {
      const r = await fetch(url, { method: 'POST', headers: signed.headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      status = r.status;
      xml = await r.text();
    } catch (error) {
      throw new SnsRequestError(`PublishBatch request failed: ${error instanceof Error ? error.message : String(error)}`, 'NetworkError', false);
    }
    if (status >= 300) {
      const code = tag(xml, 'Code') ?? `HTTP${status}`;
      const clientFault = status < 500 && status !== 429 && !RETRYABLE_CODES.has(code);
      throw new SnsRequestError(`${code}: ${(tag(xml, 'Message') ?? '').slice(0, 200)}`, code, clientFault);
    }
    return {
      successful: members(section(xml, 'Successful')).map((m) => tag(m, 'Id') ?? ''),
      failed: members(section(xml, 'Failed')).map((m) => ({
        id: tag(m, 'Id') ?? '',
        code: tag(m, 'Code') ?? 'Failed',
        message: tag(m, 'Message') ?? '',
        senderFault: tag(m, 'SenderFault') === 'true',
      })),
    };
  }
}
