import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The import rules of the README's "Code map", checked on the source so they cannot rot. */
const root = fileURLToPath(new URL('../../', import.meta.url));
const lambdas = join(root, 'lambdas');

const tsFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

/** Every module specifier a file imports or re-exports, statically or dynamically. */
const importsOf = (source: string): string[] => {
  const found: string[] = [];
  const patterns = [/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g];
  for (const p of patterns) for (const m of source.matchAll(p)) if (m[1]) found.push(m[1]);
  return found;
};

/** `file imports spec` for each import of the files that `forbidden` refuses. */
const violations = (files: readonly string[], forbidden: (spec: string, file: string) => boolean): string[] =>
  files.flatMap((f) =>
    importsOf(readFileSync(f, 'utf8'))
      .filter((spec) => forbidden(spec, f))
      .map((spec) => `${relative(root, f)} imports ${spec}`),
  );

const core = join(lambdas, 'core');
/** A relative import that leaves lambdas/core (adapters, shared runtime, the function folders). */
const leavesCore = (spec: string, file: string): boolean => spec.startsWith('.') && !resolve(dirname(file), spec).startsWith(`${core}/`);

const coreForbidden = (spec: string, file: string = join(core, 'outbound', 'x.ts')): boolean =>
  leavesCore(spec, file) ||
  spec.startsWith('@aws-sdk/') ||
  spec === 'aws-lambda' ||
  spec.startsWith('@aws-lambda-powertools/') ||
  spec.startsWith('@middy/') ||
  (spec.startsWith('node:') && spec !== 'node:crypto') ||
  ['fs', 'fs/promises', 'http', 'https', 'net', 'child_process', 'dgram', 'dns', 'tls'].includes(spec);

describe('code map rules', () => {
  it('finds static, type-only, re-exported and dynamic imports', () => {
    const src = `import a from 'x';\nimport type { B } from "../adapters/y.js";\nexport { c } from './z.js';\nconst d = await import('node:fs');\nimport 'side';`;
    expect(importsOf(src).sort()).toEqual(['../adapters/y.js', './z.js', 'node:fs', 'side', 'x']);
    expect(['../../adapters/sqs.js', '../release/ports.js', '@aws-sdk/client-sqs', 'aws-lambda', 'node:fs', 'node:crypto', './ports.js', 'zod/mini'].filter((s) => coreForbidden(s))).toEqual([
      '../../adapters/sqs.js',
      '@aws-sdk/client-sqs',
      'aws-lambda',
      'node:fs',
    ]);
  });

  it('the domain core imports nothing from adapters, AWS, Lambda, Powertools or node I/O', () => {
    const files = tsFiles(join(lambdas, 'core'));
    expect(files.length).toBeGreaterThan(10);
    expect(violations(files, coreForbidden)).toEqual([]);
  });

  it('the core is in folders by area, each with its own ports; no module over 350 lines', () => {
    const top = readdirSync(core, { withFileTypes: true });
    expect(top.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    expect(top.map((e) => e.name).sort()).toEqual(['health', 'outbound', 'outcomes', 'release', 'shared', 'status', 'webhook']);
    const long = tsFiles(core)
      .map((f) => ({ f: relative(root, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.lines > 350);
    expect(long).toEqual([]);
  });

  it('handlers receive their dependencies: no handler.ts imports an adapter', () => {
    const handlers = ['webhook', 'consumer', 'status', 'sweeper', 'releaser'].map((fn) => join(lambdas, fn, 'handler.ts'));
    expect(violations(handlers, (spec) => spec.includes('/adapters/') || spec.startsWith('@aws-sdk/'))).toEqual([]);
  });

  it('shared runtime pieces and adapters never reach into a function folder', () => {
    const files = [...tsFiles(join(lambdas, 'shared')), ...tsFiles(join(lambdas, 'adapters'))];
    expect(violations(files, (spec) => /^\.\.\/+(\.\.\/)?(webhook|consumer|status|sweeper|releaser|functions)\//.test(spec))).toEqual([]);
  });
});
