/**
 * The S3 bucket where changes too large for one SQS message go (core/webhook/inbound-message.ts decides which).
 *
 * One signed PutObject over `fetch` with `@smithy/signature-v4`, which every bundle carries already, instead of
 * `@aws-sdk/client-s3`: that client adds about 150 KiB to the webhook bundle (its schemas and the XML protocol), which
 * would take it from 418 KiB to 571 KiB, over the 460 KiB budget. The webhook needs this one call only; the local
 * pipeline, the CLI and the tests read and create with `@aws-sdk/client-s3`.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LargeValueStore } from '../core/webhook/ports.js';
import { Sha256 } from './sha256.js';

export interface S3LargeValuesOptions {
  readonly bucket: string;
  readonly region: string;
  /** An explicit endpoint (a local emulator): requests go path-style to `<endpoint>/<bucket>/<key>`. */
  readonly endpoint?: string | undefined;
  /** Lambda gives a function its credentials in the environment. */
  readonly credentials?: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
  readonly fetch?: typeof fetch;
  /** Per attempt; two attempts, so both fit the webhook's 10 s with room for the rest of the POST. */
  readonly attemptTimeoutMs?: number;
}

class S3PutError extends Error {
  override readonly name = 'S3PutError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const ATTEMPTS = 2;

/** `https://<bucket>.s3.<region>.amazonaws.com` (virtual-hosted style), or path style under an explicit endpoint. */
const objectUrl = (o: S3LargeValuesOptions, key: string): URL => {
  const path = key.split('/').map(encodeURIComponent).join('/');
  if (o.endpoint) return new URL(`${o.endpoint.replace(/\/+$/, '')}/${encodeURIComponent(o.bucket)}/${path}`);
  const suffix = o.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://${o.bucket}.s3.${o.region}.${suffix}/${path}`);
};

export class S3LargeValueStore implements LargeValueStore {
  readonly #o: S3LargeValuesOptions;
  readonly #signer: SignatureV4;
  readonly #fetch: typeof fetch;

  constructor(options: S3LargeValuesOptions) {
    this.#o = options;
    // S3 signs the path as sent (no second URI encoding) and takes the payload hash from x-amz-content-sha256.
    this.#signer = new SignatureV4({ service: 's3', region: options.region, credentials: options.credentials ?? fromEnv(), sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    this.#fetch = options.fetch ?? fetch;
  }

  async put(key: string, body: Buffer, sha256: string): Promise<{ readonly bucket: string }> {
    let last: S3PutError | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        await this.#putOnce(key, body, sha256);
        return { bucket: this.#o.bucket };
      } catch (error) {
        last = error instanceof S3PutError ? error : new S3PutError(`${(error as Error).name}: ${(error as Error).message}`, true);
        if (!last.retryable) break;
      }
    }
    throw last ?? new S3PutError('not attempted', false);
  }

  async #putOnce(key: string, body: Buffer, sha256: string): Promise<void> {
    const url = objectUrl(this.#o, key);
    const signed = await this.#signer.sign({
      method: 'PUT',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/json',
        // S3 refuses the object when the bytes it received do not have this hash, and keeps it for GetObject checks.
        'x-amz-content-sha256': sha256,
        'x-amz-checksum-sha256': Buffer.from(sha256, 'hex').toString('base64'),
      },
    });
    const { host: _host, ...headers } = signed.headers;
    const r = await this.#fetch(url, { method: 'PUT', headers, body, signal: AbortSignal.timeout(this.#o.attemptTimeoutMs ?? 4000) });
    if (r.ok) {
      await r.body?.cancel();
      return;
    }
    const text = await r.text().catch(() => '');
    const code = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1] ?? 'no error code';
    // 5xx, throttling and an expired clock skew may pass on a second try; anything else will not.
    throw new S3PutError(`PutObject ${key}: HTTP ${r.status} (${code})`, r.status >= 500 || r.status === 429 || code === 'RequestTimeTooSkewed');
  }
}
