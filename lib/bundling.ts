import { type BundlingOptions, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/** The SDK's default credential chain, as its clients import it. */
const DEFAULT_CREDENTIALS_MODULE = '@aws-sdk/credential-provider-node';
/** What Lambda bundles use instead (a path from the project root, where esbuild runs). */
const ENV_CREDENTIALS_MODULE = './lambdas/adapters/env-credentials.ts';

/**
 * How every function is bundled: locally by esbuild (no Docker), minified ESM with source maps, the AWS SDK bundled
 * (a pinned, tested version instead of the runtime's). The benchmark builds with the same settings through
 * `esbuildOptions`.
 */
export const RELAY_BUNDLING: BundlingOptions = {
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  // File and line mapping only: without embedded sources the map is ~4x smaller and Node's --enable-source-maps
  // parses it at cold start in a few ms instead of ~50 ms.
  sourcesContent: false,
  target: 'node22',
  format: OutputFormat.ESM,
  mainFields: ['module', 'main'],
  externalModules: [],
  // Some bundled CommonJS dependencies call require(); give ESM output one.
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  // Lambda gives a function its credentials in the environment: the SDK's default chain (STS, SSO, IMDS, files) is
  // replaced by the environment provider alone (lambdas/adapters/env-credentials.ts), about 60 KB less per bundle.
  esbuildArgs: { [`--alias:${DEFAULT_CREDENTIALS_MODULE}`]: ENV_CREDENTIALS_MODULE },
  forceDockerBundling: false,
};

/** The options `esbuildOptions` knows how to translate; any other option would silently differ between the two. */
const TRANSLATED = new Set(['minify', 'sourceMap', 'sourceMapMode', 'sourcesContent', 'target', 'format', 'mainFields', 'externalModules', 'banner', 'esbuildArgs', 'forceDockerBundling']);

/** `--alias:<module>` arguments as esbuild's `alias` option; any other argument is refused (it would not be translated). */
const aliasesOf = (args: BundlingOptions['esbuildArgs'] = {}): Record<string, string> => {
  const alias: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) {
    if (!k.startsWith('--alias:') || typeof v !== 'string') throw new Error(`esbuildOptions: no esbuild translation for esbuildArgs ${k}`);
    alias[k.slice('--alias:'.length)] = v;
  }
  return alias;
};

/** The esbuild options NodejsFunction derives from `bundling` (bundle for Node.js); refuses options it cannot translate. */
export const esbuildOptions = (bundling: BundlingOptions = RELAY_BUNDLING): BuildOptions => {
  const untranslated = Object.keys(bundling).filter((k) => !TRANSLATED.has(k));
  if (untranslated.length > 0) throw new Error(`esbuildOptions: no esbuild translation for bundling option(s) ${untranslated.join(', ')}`);
  if ((bundling.sourceMapMode ?? SourceMapMode.DEFAULT) !== SourceMapMode.DEFAULT) throw new Error('esbuildOptions: only SourceMapMode.DEFAULT is translated');
  return {
    bundle: true,
    platform: 'node',
    minify: bundling.minify ?? false,
    sourcemap: bundling.sourceMap ?? false,
    sourcesContent: bundling.sourcesContent ?? true,
    format: bundling.format === OutputFormat.ESM ? 'esm' : 'cjs',
    external: [...(bundling.externalModules ?? ['@aws-sdk/*'])],
    ...(bundling.target ? { target: bundling.target } : {}),
    ...(bundling.mainFields ? { mainFields: [...bundling.mainFields] } : {}),
    ...(bundling.banner ? { banner: { js: bundling.banner } } : {}),
    ...(bundling.esbuildArgs ? { alias: aliasesOf(bundling.esbuildArgs) } : {}),
  };
};
