import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { describe, expect, it } from 'vitest';
import { esbuildOptions, RELAY_BUNDLING } from '../../lib/bundling.js';
import { LAMBDA_NAMES, lambdaEntry } from '../../lib/lambda-entry.js';

describe('bundling options shared by the stack and the benchmark', () => {
  it('translates the NodejsFunction options into the esbuild options the benchmark builds with', () => {
    expect(esbuildOptions()).toEqual({
      bundle: true,
      platform: 'node',
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      target: 'node22',
      format: 'esm',
      mainFields: ['module', 'main'],
      external: [],
      banner: { js: RELAY_BUNDLING.banner },
      alias: { '@aws-sdk/credential-provider-node': './lambdas/adapters/env-credentials.ts' },
    });
  });

  it('refuses an option it cannot translate, so the benchmark never silently builds differently', () => {
    expect(() => esbuildOptions({ ...RELAY_BUNDLING, define: { 'process.env.X': '"1"' } })).toThrow('define');
    expect(() => esbuildOptions({ ...RELAY_BUNDLING, sourceMapMode: SourceMapMode.INLINE })).toThrow('SourceMapMode');
    expect(() => esbuildOptions({ ...RELAY_BUNDLING, esbuildArgs: { '--keep-names': true } })).toThrow('--keep-names');
  });
});

describe('credentials in a bundle: the environment provider alone', () => {
  /** Marks of the default chain's other providers: STS web identity, SSO, IMDS role credentials, ini files. */
  const CHAIN_MARKS = ['AssumeRoleWithWebIdentity', 'GetRoleCredentials', 'security-credentials', 'sso_start_url'];

  it.each(LAMBDA_NAMES)('%s carries no STS, SSO or IMDS credential code', async (name) => {
    const out = await esbuild.build({ ...esbuildOptions(), entryPoints: [lambdaEntry(name)], write: false, metafile: true, outdir: '/out', logLevel: 'silent' });
    const code = out.outputFiles.find((f) => f.path.endsWith('.js') || f.path.endsWith('.mjs'))?.text ?? '';
    expect(code.length).toBeGreaterThan(100_000);
    expect(CHAIN_MARKS.filter((m) => code.includes(m))).toEqual([]);
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((i) => /credential-provider-(node|sso|ini|process|web-identity|http|imds)|client-sts|client-sso|nested-clients/.test(i))).toEqual([]);
    expect(inputs).toContain('lambdas/adapters/env-credentials.ts');
  });

  it('a bundled SDK client signs with the credentials of its environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-creds-'));
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"QueueUrls":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const entry = `import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
await new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:${port}' }).send(new ListQueuesCommand({}));`;
      await esbuild.build({ ...esbuildOptions(), stdin: { contents: entry, resolveDir: process.cwd(), loader: 'ts' }, outfile: join(dir, 'index.mjs'), logLevel: 'silent' });
      const env = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: 'AKIDFROMTHEENV', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'session', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
      await new Promise<void>((resolve, reject) =>
        execFile(process.execPath, [join(dir, 'index.mjs')], { env }, (error) => (error ? reject(error) : resolve())),
      );
      expect(seen).toHaveLength(1);
      expect(seen[0]).toContain('Credential=AKIDFROMTHEENV/');
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('entry paths', () => {
  it.each(LAMBDA_NAMES)('%s has an entry module', async (name) => {
    await expect(access(lambdaEntry(name))).resolves.toBeUndefined();
  });
});
