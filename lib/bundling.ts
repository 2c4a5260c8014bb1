import { type BundlingOptions, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

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
  forceDockerBundling: false,
};

/** The options `esbuildOptions` knows how to translate; any other option would silently differ between the two. */
const TRANSLATED = new Set(['minify', 'sourceMap', 'sourceMapMode', 'sourcesContent', 'target', 'format', 'mainFields', 'externalModules', 'banner', 'forceDockerBundling']);

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
  };
};
