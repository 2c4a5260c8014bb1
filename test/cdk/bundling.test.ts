import { access } from 'node:fs/promises';
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
    });
  });

  it('refuses an option it cannot translate, so the benchmark never silently builds differently', () => {
    expect(() => esbuildOptions({ ...RELAY_BUNDLING, define: { 'process.env.X': '"1"' } })).toThrow('define');
    expect(() => esbuildOptions({ ...RELAY_BUNDLING, sourceMapMode: SourceMapMode.INLINE })).toThrow('SourceMapMode');
  });
});

describe('entry paths', () => {
  it.each(LAMBDA_NAMES)('%s has an entry module', async (name) => {
    await expect(access(lambdaEntry(name))).resolves.toBeUndefined();
  });
});
