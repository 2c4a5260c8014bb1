import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { consumerConfigSchema } from '../../lambdas/consumer/config.js';
import { DEAD_LETTER_REASONS } from '../../lambdas/core/outbound/outbound-decision.js';
import { RELAY_EVENT_DETAIL_SHAPES } from '../../lambdas/core/outcomes/relay-event-schema.js';
import { RELAY_EVENT_TYPES, type RelayEventType } from '../../lambdas/core/outcomes/relay-events.js';
import { releaserConfigSchema } from '../../lambdas/releaser/config.js';
import { statusConfigSchema } from '../../lambdas/status/config.js';
import { sweeperConfigSchema } from '../../lambdas/sweeper/config.js';
import { webhookConfigSchema } from '../../lambdas/webhook/config.js';
import { RelayStack } from '../../lib/relay-stack.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { STAGE_CONFIGS, STAGES, type StageName } from '../../lib/stage-config.js';
import { runCli } from '../../local/cli.js';
import { DEV_SECRETS, LOCAL_DEFAULTS } from '../../local/pipeline.js';
import { renderedStatusLines } from '../support/status-views.js';
import { codeLines, docPages, headings, inlineCode, quoted, section, shellWords, slug, tableRows, ticked, withoutComment } from '../support/markdown.js';

/**
 * The docs (README.md and docs/*.md) against the code, so they cannot drift: commands, variables, context options,
 * stage settings, alarms, dead-letter reasons, routes, stack outputs, paths and links. Each failure names the page and
 * what to change.
 */
const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const pages = docPages(ROOT);
const page = (path: string): string => {
  const p = pages.find((x) => x.path === path);
  if (!p) throw new Error(`${path} is missing`);
  return p.text;
};
const source = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const sourcesUnder = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => source(join(dir, f)));

/** Every `npm run cli -- ...` quoted in the docs, as words after `--`, with where it was found. */
const cliCommands = (): { readonly where: string; readonly words: string[] }[] =>
  pages.flatMap((p) =>
    quoted(p.text).flatMap((q) =>
      [...withoutComment(q).matchAll(/npm run cli -- ([^`]*)/g)].map((m) => ({ where: `${p.path}: ${m[0]}`, words: shellWords(m[1] as string) })),
    ),
  );

/** What the CLI prints for `argv` (only ever `--help` here: nothing is called) and its exit code. */
const cliRun = async (argv: string[]): Promise<{ code: number; out: string }> => {
  const lines: string[] = [];
  const code = await runCli(argv, {}, {
    out: (l) => lines.push(l),
    fetch: () => Promise.reject(new Error('the doc test never calls a pipeline')),
  });
  return { code, out: lines.join('\n') };
};
const cliOutput = async (argv: string[]): Promise<string> => (await cliRun(argv)).out;

const hasOption = (help: string, option: string) => new RegExp(`(^|[\\s\\[(|])${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s\\])|=,])`, 'm').test(help);

/** What is wrong with one quoted CLI command (its words after `--`), judged by the CLI's own help. */
const cliProblems = async (where: string, words: readonly string[], main: string): Promise<string[]> => {
  const [command, second] = words;
  if (command === undefined) return [`${where}: no command`];
  let help = main;
  const problems: string[] = [];
  if (!command.startsWith('-')) {
    // A command the CLI knows has its own help (an alias shares its command's); any other word is a usage error.
    const own = await cliRun([command, '--help']);
    if (own.code !== 0 || own.out === main) return [`${where}: "${command}" is not a command of \`npm run cli -- --help\``];
    help = `${own.out}\n-h, --help`;
    // Where the command's usage lines name literal subcommands (`dead-letters list`), the docs must use one of them.
    const subcommands = [...help.matchAll(new RegExp(`npm run cli -- ${command} (\\S+)`, 'g'))].map((m) => m[1] as string);
    const literal = subcommands.filter((s) => /^[a-z][a-z-]*$/.test(s));
    if (literal.length > 0 && literal.length === subcommands.length && !literal.includes(second ?? '')) {
      problems.push(`${where}: "${command} ${second ?? ''}" is not one of: ${[...new Set(literal)].map((s) => `${command} ${s}`).join(', ')}`);
    }
  }
  for (const word of words.filter((w) => w.startsWith('-'))) {
    const option = word.split('=')[0] as string;
    if (!hasOption(help, option)) problems.push(`${where}: option ${option} is not in \`npm run cli -- ${command.startsWith('-') ? '' : `${command} `}--help\``);
  }
  return problems;
};

describe('CLI commands quoted in the docs', () => {
  it('name a command the CLI knows, its subcommands and only options its help lists', async () => {
    const main = await cliOutput(['--help']);
    const commands = cliCommands();
    expect(commands.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const { where, words } of commands) problems.push(...(await cliProblems(where, words, main)));
    expect(problems).toEqual([]);
  });

  it('the check refuses an unknown command, subcommand or option', async () => {
    const main = await cliOutput(['--help']);
    expect(await cliProblems('x', ['stauts', '1029384756'], main)).toHaveLength(1);
    expect(await cliProblems('x', ['dead-letters', 'purge'], main)).toHaveLength(1);
    expect(await cliProblems('x', ['send', '--waba', '1', '--phone-number', '555001'], main)).toHaveLength(1);
    expect(await cliProblems('x', ['webhook', 'offboard', '--waba', '1', '--stage', 'prod'], main)).toHaveLength(1);
    expect(await cliProblems('x', ['send', '--waba', '1', '--phone-number-id', '555001'], main)).toEqual([]);
  });
});

/**
 * Output of `status` the docs quote: the comment after `npm run cli -- status ...` (pieces separated by "; ") and code
 * spans that start like one of its lines. Each must be what `formatStatus` prints for one of the answers in
 * test/support/status-views.ts, with `...` for any text, `<name>` for one word and any number for a number (a real run
 * checks the README's walkthrough: test/e2e/walkthrough.test.ts).
 */
const STATUS_LINE_STARTS = ['waiting now:', 'hold:', 'totals since', 'last release:', 'reset:', 'restrictions in force:', 'timeline:'];
const outputPattern = (piece: string): RegExp =>
  new RegExp(
    piece
      .trim()
      .split(/(\.\.\.|<[^>]+>|\d+)/)
      .map((part, i) => (i % 2 === 0 ? part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : part === '...' ? '.*' : part.startsWith('<') ? '\\S+' : '\\d+'))
      .join(''),
  );
const quotedStatusOutput = (): { readonly where: string; readonly piece: string }[] =>
  pages.flatMap((p) => [
    ...codeLines(p.text).flatMap((line) => {
      const comment = /npm run cli -- status [^#]*#\s+(.*)$/.exec(line)?.[1];
      return comment ? comment.split('; ').map((piece) => ({ where: `${p.path}: ${line.trim()}`, piece })) : [];
    }),
    ...inlineCode(p.text)
      .filter((q) => STATUS_LINE_STARTS.some((s) => q.startsWith(s)))
      .map((piece) => ({ where: `${p.path}: \`${piece}\``, piece })),
  ]);

describe('CLI output quoted in the docs', () => {
  it('`status` output is quoted in the words the CLI prints', () => {
    const printed = renderedStatusLines();
    const quotes = quotedStatusOutput();
    expect(quotes.length).toBeGreaterThan(5);
    expect(quotes.filter((q) => !printed.some((line) => outputPattern(q.piece).test(line))).map((q) => `${q.where}: "${q.piece}" is not what \`status\` prints`)).toEqual([]);
  });

  it('the check refuses words the CLI does not print', () => {
    const printed = renderedStatusLines();
    const matches = (piece: string) => printed.some((line) => outputPattern(piece).test(line));
    expect(matches('messages.sent: 1')).toBe(false);
    expect(matches('hold: ended since ...')).toBe(false);
    expect(matches('totals since ...: 0 parked, 1 sent')).toBe(true);
    expect(matches('hold: in-force since ... (133010: ...)')).toBe(true);
  });
});

describe('Node.js version', () => {
  it('every "Node.js <version> or later" in the docs is the minimum of package.json engines', () => {
    const engines = (JSON.parse(source('package.json')) as { engines: { node: string } }).engines.node;
    const minimum = /^>=\s*(\d+(?:\.\d+)*)$/.exec(engines)?.[1];
    expect(minimum, `package.json engines.node "${engines}" is not ">=<version>"`).toBeDefined();
    const said = pages.flatMap((p) => [...p.text.matchAll(/Node(?:\.js)? (\d+(?:\.\d+)*)\+? or (?:later|newer)/g)].map((m) => ({ where: p.path, version: m[1] as string })));
    expect(said.map((s) => s.where)).toEqual(expect.arrayContaining(['README.md', 'docs/troubleshooting.md']));
    expect(said.filter((s) => s.version !== minimum).map((s) => `${s.where}: says Node.js ${s.version} or later; package.json engines says ${engines}`)).toEqual([]);
  });
});

describe('npm scripts quoted in the docs', () => {
  const pkg = JSON.parse(source('package.json')) as { scripts: Record<string, string> };

  it('exist in package.json, and the flags passed to them are ones their entry file reads', () => {
    const problems: string[] = [];
    for (const p of pages) {
      for (const q of quoted(p.text)) {
        for (const m of withoutComment(q).matchAll(/npm run (?:-s )?([\w:-]+)(?: -- ((?:--?[\w-]+ ?)+))?/g)) {
          const script = m[1] as string;
          const run = pkg.scripts[script];
          if (run === undefined) {
            problems.push(`${p.path}: \`npm run ${script}\` is not a script in package.json`);
            continue;
          }
          if (script === 'cli' || !m[2]) continue;
          const entry = /\S+\.ts/.exec(run)?.[0];
          const entrySource = entry ? source(entry) : '';
          for (const flag of (m[2] as string).trim().split(/\s+/)) {
            if (!entrySource.includes(`'${flag}'`)) problems.push(`${p.path}: \`npm run ${script} -- ${flag}\`: ${entry ?? run} does not read ${flag}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

/** Each function's environment schema: its variables and the default each one takes when unset. */
const FUNCTION_SCHEMAS = {
  webhook: webhookConfigSchema,
  consumer: consumerConfigSchema,
  status: statusConfigSchema,
  sweeper: sweeperConfigSchema,
  releaser: releaserConfigSchema,
} as const;
type FunctionName = keyof typeof FUNCTION_SCHEMAS;
type Field = { safeParse(v: unknown): { success: boolean; data?: unknown } };
const shapeOf = (schema: unknown): Record<string, Field> =>
  (schema as { _zod: { def: { in: { _zod: { def: { shape: Record<string, Field> } } } } } })._zod.def.in._zod.def.shape;
const usedBy = new Map<string, Set<FunctionName>>();
const schemaDefault = new Map<string, string>();
for (const [fn, schema] of Object.entries(FUNCTION_SCHEMAS) as [FunctionName, unknown][]) {
  for (const [name, field] of Object.entries(shapeOf(schema))) {
    usedBy.set(name, (usedBy.get(name) ?? new Set()).add(fn));
    const r = field.safeParse(undefined);
    if (r.success && r.data !== undefined) schemaDefault.set(name, Array.isArray(r.data) ? r.data.join(',') : String(r.data));
  }
}
/** Variables the AWS SDK and the AWS CLI read themselves (credentials and profile), which the docs may name. */
const READ_BY_AWS_TOOLS = ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];
/** Names that read as configuration (Meta's event and enum names, also in capitals, do not). */
const ENVIRONMENT_VARIABLE = /^(AWS|GRAPH|POWERTOOLS|FC|META|WEBHOOK|WHATSAPP)_|_(SECONDS|MS|DAYS|URL|ID|NAME|PERCENT|SCHEDULE|ATTEMPTS|TOKEN|SECRET|VERSION|REGION|LEVEL|RUN|RUNS|PER_SECOND|OFFBOARDING|DISABLED)$/;

describe('environment variables', () => {
  const configuration = page('docs/configuration.md');
  const lambdaRows = tableRows(section(configuration, 'Lambda environment'));
  const localRows = tableRows(section(configuration, 'Local pipeline only (`npm start`)'));
  const lambdaDocumented = lambdaRows.flatMap((r) => ticked(r[0] as string));
  const localDocumented = localRows.flatMap((r) => ticked(r[0] as string));

  it('every variable a function reads is in the Lambda table, and every variable there is read by a function', () => {
    expect([...usedBy.keys()].filter((v) => !lambdaDocumented.includes(v)).map((v) => `docs/configuration.md: add ${v} (read by ${[...(usedBy.get(v) ?? [])].join(', ')})`)).toEqual([]);
    expect(lambdaDocumented.filter((v) => !usedBy.has(v)).map((v) => `docs/configuration.md: ${v} is read by no function's config.ts`)).toEqual([]);
  });

  it('the Lambda table says which functions read each variable, and its default', () => {
    const problems: string[] = [];
    for (const row of lambdaRows) {
      const [names = '', def = '', users = ''] = row;
      const said = users.trim() === 'all' || users.startsWith('all ') ? Object.keys(FUNCTION_SCHEMAS) : users.match(/\b(webhook|consumer|status|sweeper|releaser)\b/g) ?? [];
      for (const name of ticked(names)) {
        const actual = [...(usedBy.get(name) ?? [])].sort();
        if (said.slice().sort().join(',') !== actual.join(',')) problems.push(`${name}: "used by" says ${said.join(', ')}; read by ${actual.join(', ')}`);
        const documentedDefault = ticked(def)[0];
        const d = schemaDefault.get(name);
        if (d !== undefined && documentedDefault !== d) problems.push(`${name}: default documented ${documentedDefault ?? def}, the schema's is ${d}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every variable of npm start is in a table, and every local-only variable is one npm start reads', () => {
    const localSources = [...['local/pipeline.ts', 'local/start.ts', 'local/cli.ts'].map(source), ...sourcesUnder('local/cli')].join('\n');
    const all = [...lambdaDocumented, ...localDocumented];
    const missing = [...Object.keys(LOCAL_DEFAULTS), ...Object.keys(DEV_SECRETS)].filter((v) => !all.includes(v));
    expect(missing.map((v) => `docs/configuration.md: add ${v} (local/pipeline.ts)`)).toEqual([]);
    expect(localDocumented.filter((v) => !(v in LOCAL_DEFAULTS) && !localSources.includes(v)).map((v) => `${v} is not read by npm start`)).toEqual([]);
  });

  it('the local table gives npm start\'s own default of each variable it sets', () => {
    const problems = localRows.flatMap(([names = '', def = '']) =>
      ticked(names)
        .filter((name) => name in LOCAL_DEFAULTS && ticked(def)[0] !== LOCAL_DEFAULTS[name as keyof typeof LOCAL_DEFAULTS])
        .map((name) => `docs/configuration.md, "Local pipeline only": ${name} documented ${def}, npm start's default is ${LOCAL_DEFAULTS[name as keyof typeof LOCAL_DEFAULTS]}`),
    );
    expect(problems).toEqual([]);
    // A Lambda variable npm start sets to a value other than the function's default (the probe turns) has a row here too.
    const shared = Object.keys(LOCAL_DEFAULTS).filter((name) => schemaDefault.has(name) && schemaDefault.get(name) !== LOCAL_DEFAULTS[name as keyof typeof LOCAL_DEFAULTS]);
    expect(shared.length).toBeGreaterThan(0);
    expect(shared.filter((name) => !localDocumented.includes(name)).map((name) => `docs/configuration.md, "Local pipeline only": add ${name} (npm start's default ${LOCAL_DEFAULTS[name as keyof typeof LOCAL_DEFAULTS]})`)).toEqual([]);
  });

  it('"Missing secrets" gives the development value of every secret npm start falls back to (the banner shows none whole)', () => {
    const quotedHere = quoted(section(configuration, 'Missing secrets'));
    expect(Object.entries(DEV_SECRETS).filter(([name, value]) => !quotedHere.includes(`${name}=${value}`)).map(([name, value]) => `docs/configuration.md, "Missing secrets": quote \`${name}=${value}\``)).toEqual([]);
  });

  it('every other variable quoted in the docs is one the code reads (shell variables the docs set aside)', () => {
    const code = [...['lambdas', 'lib', 'bin', 'local', 'bench', 'test/support'].flatMap(sourcesUnder), source('package.json')].join('\n');
    // A shell variable the docs fill from a command (`STATUS_URL=$(out ClientStatusUrl)`) is the reader's, not the relay's.
    const shellOnly = new Set(pages.flatMap((p) => quoted(p.text).flatMap((q) => [...q.matchAll(/\b([A-Z][A-Z0-9_]*)=\$\(/g)].map((m) => m[1] as string))));
    const problems = pages.flatMap((p) =>
      quoted(p.text)
        .flatMap((q) => q.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g) ?? [])
        .filter((name) => ENVIRONMENT_VARIABLE.test(name) && !usedBy.has(name) && !shellOnly.has(name) && !READ_BY_AWS_TOOLS.includes(name) && !code.includes(name))
        .map((name) => `${p.path}: ${name} is read nowhere in the code`),
    );
    expect([...new Set(problems)]).toEqual([]);
  });
});

/** The stack as `cdk synth` builds it, without bundling. */
const build = (stage: StageName) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RelayStack(app, `CoexistenceRelay-${stage}`, { config: STAGE_CONFIGS[stage], env: { account: '111111111111', region: 'eu-west-1' } });
  return { stack, template: Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>; Outputs?: Record<string, unknown> } };
};
const prod = build('prod');

describe('deploying', () => {
  const deploying = page('docs/deploying.md');

  it('documents every -c option bin/ reads, and only those', () => {
    const read = [...readdirSync(join(ROOT, 'bin')).map((f) => source(join('bin', f))).join('\n').matchAll(/tryGetContext\('([\w-]+)'\)/g)].map((m) => m[1] as string);
    expect(read.length).toBeGreaterThan(0);
    const table = tableRows(section(deploying, 'Context options (`-c`)')).map((r) => /-c (\w+)=/.exec(r[0] as string)?.[1]);
    expect(read.filter((o) => !table.includes(o)).map((o) => `docs/deploying.md, "Context options": add -c ${o}`)).toEqual([]);
    const quotedOptions = pages.flatMap((p) => quoted(p.text).flatMap((q) => [...q.matchAll(/(?:^|\s)-c (\w+)=(\S*)/g)].map((m) => ({ where: p.path, name: m[1] as string, value: m[2] as string }))));
    expect(quotedOptions.length).toBeGreaterThan(3);
    expect(quotedOptions.filter((o) => !read.includes(o.name)).map((o) => `${o.where}: -c ${o.name} is not read by bin/`)).toEqual([]);
    const stages = quotedOptions.filter((o) => o.name === 'stage' && !o.value.startsWith('<') && !o.value.includes('...'));
    expect(stages.filter((o) => !(STAGES as readonly string[]).includes(o.value)).map((o) => `${o.where}: -c stage=${o.value} is not a stage`)).toEqual([]);
  });

  it('the stage table and the flood-safety table give the values of lib/stage-config.ts', () => {
    const show = (v: unknown): string => {
      if (v instanceof Duration) {
        const s = v.toSeconds();
        return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
      }
      if (typeof v === 'boolean') return v ? 'on' : 'off';
      return String(v);
    };
    const at = (stage: StageName, path: string): unknown =>
      path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], STAGE_CONFIGS[stage] as unknown);
    const problems: string[] = [];
    const rows = tableRows(section(deploying, 'The stage config'));
    expect(rows.length).toBeGreaterThan(5);
    for (const [setting = '', ...values] of rows) {
      const path = ticked(setting)[0] as string;
      STAGES.forEach((stage, i) => {
        if (values[i] !== show(at(stage, path))) problems.push(`${path} in ${stage}: documented ${values[i]}, configured ${show(at(stage, path))}`);
      });
    }
    const flood = tableRows(section(deploying, 'Flood safety'));
    expect(flood.map((r) => ticked(r[0] as string)[0])).toEqual([...STAGES]);
    for (const [stage = '', api = '', route = '', reserved = ''] of flood) {
      const c = STAGE_CONFIGS[ticked(stage)[0] as StageName];
      const want = [`${c.api.throttleRateLimit} / ${c.api.throttleBurstLimit}`, `${c.api.webhookRateLimit} / ${c.api.webhookBurstLimit}`, String(c.webhook.reservedConcurrency)];
      if ([api, route, reserved].join(';') !== want.join(';')) problems.push(`flood safety ${stage}: documented ${[api, route, reserved].join(', ')}, configured ${want.join(', ')}`);
    }
    expect(problems).toEqual([]);
  });

  it('every stage setting named in the docs exists in lib/stage-config.ts', () => {
    const sections = ['queues', 'consumer', 'webhook', 'api', 'relay', 'alarms'];
    const exists = (path: string) =>
      STAGES.some((s) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], STAGE_CONFIGS[s] as unknown) !== undefined);
    const problems = pages.flatMap((p) =>
      quoted(p.text)
        .filter((q) => /^[a-z]+\.[a-zA-Z]+$/.test(q) && sections.includes(q.split('.')[0] as string))
        .filter((q) => !exists(q))
        .map((q) => `${p.path}: \`${q}\` is not a stage setting`),
    );
    expect(problems).toEqual([]);
  });

  it('documents every stack output, and names only outputs the stack has', () => {
    const outputs = Object.keys(prod.template.Outputs ?? {});
    expect(outputs.length).toBeGreaterThan(3);
    const table = tableRows(section(deploying, 'Stack outputs')).flatMap((r) => ticked(r[0] as string));
    expect(outputs.filter((o) => !table.includes(o)).map((o) => `docs/deploying.md, "Stack outputs": add ${o}`)).toEqual([]);
    expect(table.filter((o) => !outputs.includes(o)).map((o) => `docs/deploying.md, "Stack outputs": the stack has no output ${o}`)).toEqual([]);
    const named = pages.flatMap((p) => quoted(p.text).flatMap((q) => (/^[A-Z][A-Za-z]+(Url|Arn)$/.test(q) ? [{ where: p.path, name: q }] : [])));
    expect(named.filter((n) => !outputs.includes(n.name)).map((n) => `${n.where}: the stack has no output ${n.name}`)).toEqual([]);
  });
});

/** A count as the docs write it: digits or a word up to twelve. */
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const COUNT = `(\\d+|${NUMBER_WORDS.join('|')})`;
const countOf = (word: string): number => (/^\d+$/.test(word) ? Number(word) : NUMBER_WORDS.indexOf(word.toLowerCase()));
const resourcesOf = (template: ReturnType<typeof build>['template'], type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
/** Every "<count> <what>" in the pages, with its count and where it is. */
const claims = (what: string, text: string = pages.map((p) => p.text).join('\n')): number[] =>
  [...text.replace(/\s+/g, ' ').matchAll(new RegExp(`\\b${COUNT} ${what}\\b`, 'gi'))].map((m) => countOf(m[1] as string));

/**
 * What `prod` keeps on teardown, as docs/deploying.md's list names it: each retained resource type, and the words
 * that count it (no count: one).
 */
const RETAINED_AS: Readonly<Record<string, RegExp>> = {
  'AWS::DynamoDB::GlobalTable': /^the DynamoDB table\b/,
  'AWS::DynamoDB::Table': /^the DynamoDB table\b/,
  'AWS::SQS::Queue': new RegExp(`^the ${COUNT} queues\\b`),
  'AWS::SecretsManager::Secret': new RegExp(`^the ${COUNT} secrets\\b`),
  'AWS::Logs::LogGroup': new RegExp(`^the ${COUNT} log groups\\b`),
  'AWS::KMS::Key': new RegExp(`^the ${COUNT} KMS keys\\b`),
  'AWS::S3::Bucket': /^the S3 bucket\b/,
};

/** What is wrong with deploying.md's counts and lists, judged by the synthesized stacks. */
const deployingProblems = (deploying: string): string[] => {
  const problems: string[] = [];
  for (const stage of STAGES) {
    const { template } = stage === 'prod' ? prod : build(stage);
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').length;
    const keys = resourcesOf(template, 'AWS::KMS::Key').length;
    const alarmClaims = claims('(?:CloudWatch )?alarms', deploying);
    if (alarmClaims.length === 0) problems.push('docs/deploying.md: say how many CloudWatch alarms the stack has (they are priced)');
    for (const n of alarmClaims.filter((c) => c !== alarms)) problems.push(`docs/deploying.md says ${n} CloudWatch alarms; the ${stage} stack has ${alarms}`);
    const keyClaims = claims('KMS keys?', deploying);
    if (keyClaims.length === 0) problems.push('docs/deploying.md: say how many KMS keys the stack has (they are priced)');
    for (const n of keyClaims.filter((c) => c !== keys)) problems.push(`docs/deploying.md says ${n} KMS keys; the ${stage} stack has ${keys}`);
  }
  // What prod retains: one list item per retained resource type, with its count; nothing listed that is not retained.
  const retained = new Map<string, number>();
  for (const r of Object.values(prod.template.Resources) as { Type: string; DeletionPolicy?: string }[]) {
    if (r.DeletionPolicy === 'Retain') retained.set(r.Type, (retained.get(r.Type) ?? 0) + 1);
  }
  const items = section(deploying, 'Teardown')
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
  for (const [type, n] of retained) {
    const words = RETAINED_AS[type];
    if (!words) {
      problems.push(`prod retains ${type}: name it in docs/deploying.md's teardown list and in RETAINED_AS here`);
      continue;
    }
    const item = items.map((i) => words.exec(i)).find((m) => m !== null);
    if (!item) problems.push(`docs/deploying.md, "Teardown": prod retains ${n} ${type}; the list does not name it (${words.source})`);
    else if ((item[1] === undefined ? 1 : countOf(item[1])) !== n) problems.push(`docs/deploying.md, "Teardown": "${item[0]}", but prod retains ${n} ${type}`);
  }
  for (const i of items.filter((x) => !Object.entries(RETAINED_AS).some(([type, words]) => retained.has(type) && words.test(x)))) {
    problems.push(`docs/deploying.md, "Teardown": "${i}" is not something prod retains`);
  }
  // The IAM resource ARN of every IAM-authorized route, and no other.
  const iamRoutes = resourcesOf(prod.template, 'AWS::ApiGatewayV2::Route').filter((r) => r.Properties.AuthorizationType === 'AWS_IAM');
  const arnOf = (routeKey: string) => {
    const [method, path = ''] = routeKey.split(' ');
    return `arn:aws:execute-api:<region>:<account>:<api id>/$default/${method}/${path.slice(1).replace(/\{[^}]+\}/g, '*')}`;
  };
  const quotedArns = quoted(deploying).filter((q) => q.startsWith('arn:aws:execute-api:'));
  for (const r of iamRoutes) {
    const arn = arnOf(r.Properties.RouteKey as string);
    if (!quotedArns.includes(arn)) problems.push(`docs/deploying.md: give operators the resource ARN of ${r.Properties.RouteKey as string}: \`${arn}\``);
  }
  for (const arn of quotedArns.filter((a) => !iamRoutes.some((r) => arnOf(r.Properties.RouteKey as string) === a))) problems.push(`docs/deploying.md: ${arn} is the ARN of no IAM route`);
  return problems;
};

describe('counts and lists against the synthesized stack', () => {
  const deploying = page('docs/deploying.md');

  it('deploying.md: the alarms and KMS keys it prices, what prod retains, an IAM resource ARN per operator route', () => {
    expect(deployingProblems(deploying)).toEqual([]);
  });

  it('the check refuses a wrong count, a retained resource left out and a route without its ARN', () => {
    const drifted = deploying
      .replace(/\b28 CloudWatch alarms/, '23 CloudWatch alarms')
      .replace(/- the two KMS keys[^\n]*\n/, '')
      .replace(/`arn:aws:execute-api:[^`]*GET\/messages[^`]*`/, 'nothing');
    const problems = deployingProblems(drifted);
    expect(problems).toContain('docs/deploying.md says 23 CloudWatch alarms; the prod stack has 28');
    expect(problems).toContainEqual(expect.stringMatching(/"Teardown": prod retains 2 AWS::KMS::Key; the list does not name it/));
    expect(problems).toContainEqual(expect.stringMatching(/resource ARN of GET \/messages\/\{wabaId\}\/\{messageId\}/));
  });

  it('operations.md: the CLI commands that work against a stack are the ones its help lists for a stack', async () => {
    const help = await cliOutput(['--help']);
    const block = (title: string) =>
      (help.split(`${title}\n`)[1] ?? '')
        .split('\n\n')[0]
        ?.split('\n')
        .map((l) => (l.trim().split(/\s{2,}/)[0] ?? '').split(' ').filter((w) => !/^[<[]/.test(w)).join(' '))
        .filter(Boolean) ?? [];
    const stack = block('Commands (local pipeline or stack):');
    const localOnly = block('Commands (local pipeline only):');
    expect(stack.length).toBeGreaterThan(4);
    expect(localOnly.length).toBeGreaterThan(2);
    const operations = page('docs/operations.md');
    const rows = tableRows(section(operations, 'Operating a deployed stack from the CLI'))
      .map((r) => (ticked(r[0] as string)[0] ?? '').split(' ').filter((w) => !/^[<[]|^\.\.\.$/.test(w)).join(' '));
    expect(stack.filter((c) => !rows.includes(c)).map((c) => `docs/operations.md, "Operating a deployed stack": add \`${c}\` to the table`)).toEqual([]);
    expect(rows.filter((c) => !stack.includes(c)).map((c) => `docs/operations.md: \`${c}\` is not a command that works against a stack (npm run cli -- --help)`)).toEqual([]);
    // The outputs the CLI reads, as the page lists them.
    const reads = /The CLI reads\s+the outputs ([^;.]*)/.exec(operations.replace(/\s+/g, ' '))?.[1] ?? '';
    expect(ticked(reads).sort()).toEqual(Object.values(STACK_OUTPUTS).sort());
    const outputs = Object.keys(prod.template.Outputs ?? {});
    expect(ticked(reads).filter((o) => !outputs.includes(o))).toEqual([]);
  });
});

describe('operations', () => {
  it('has a runbook for every alarm of the stack, and none for an alarm it does not have', () => {
    const alarms = prod.stack.monitoring.alarms.map((a) => a.node.id);
    expect(alarms.length).toBeGreaterThan(10);
    const runbooks = section(page('docs/operations.md'), 'Runbooks');
    const titled = headings(runbooks).flatMap((h) => ticked(h.title));
    expect(alarms.filter((a) => !titled.includes(a)).map((a) => `docs/operations.md, "Runbooks": add a runbook for ${a}`)).toEqual([]);
    expect(titled.filter((a) => !alarms.includes(a)).map((a) => `docs/operations.md: the stack has no alarm ${a}`)).toEqual([]);
    const summary = tableRows(section(page('docs/operations.md'), 'Alarms')).flatMap((r) => ticked(r[0] as string));
    expect(alarms.filter((a) => !summary.includes(a)).map((a) => `docs/operations.md, "Alarms": add ${a} to the table`)).toEqual([]);
  });
});

describe('dead letters', () => {
  it('documents every reason in DEAD_LETTER_REASONS, and no other', () => {
    const table = tableRows(section(page('docs/dead-letters.md'), 'Reasons')).flatMap((r) => ticked(r[0] as string));
    expect(DEAD_LETTER_REASONS.filter((r) => !table.includes(r)).map((r) => `docs/dead-letters.md, "Reasons": add ${r}`)).toEqual([]);
    expect(table.filter((r) => !(DEAD_LETTER_REASONS as readonly string[]).includes(r)).map((r) => `docs/dead-letters.md: ${r} is not a dead-letter reason`)).toEqual([]);
  });
});

describe('relay events', () => {
  /** A table cell's fields: its ticked names outside parentheses (values and sub-fields go in parentheses). */
  const fieldsOf = (cell: string): string[] => ticked(cell.replace(/\([^()]*(\([^()]*\)[^()]*)*\)/g, ''));
  const problemsOf = (rows: string[][]): string[] => {
    const problems: string[] = [];
    const documented = new Set<string>();
    for (const [types = '', , detail = ''] of rows) {
      const [required = '', optional = ''] = detail.split(/;\s*optional:/);
      for (const type of ticked(types).filter((t): t is RelayEventType => (RELAY_EVENT_TYPES as readonly string[]).includes(t))) {
        documented.add(type);
        const shape = RELAY_EVENT_DETAIL_SHAPES[type] as Record<string, { safeParse(v: unknown): { success: boolean } }>;
        const want = (opt: boolean) => Object.keys(shape).filter((k) => (shape[k] as { safeParse(v: unknown): { success: boolean } }).safeParse(undefined).success === opt).sort().join(', ');
        const said = (cell: string) => fieldsOf(cell).sort().join(', ');
        if (said(required) !== want(false)) problems.push(`docs/relay-events.md, ${type}: detail fields documented "${said(required)}", always present in the schema "${want(false)}"`);
        if (said(optional) !== want(true)) problems.push(`docs/relay-events.md, ${type}: optional detail fields documented "${said(optional)}", optional in the schema "${want(true)}"`);
      }
    }
    for (const type of RELAY_EVENT_TYPES.filter((t) => !documented.has(t))) problems.push(`docs/relay-events.md: add a row for ${type}`);
    return problems;
  };
  const table = () => {
    const text = section(page('docs/relay-events.md'), 'The event');
    return tableRows(text.slice(text.indexOf('| `type` | when |')));
  };

  it('documents every event type\'s detail, field for field and which are optional, as the schema has it', () => {
    expect(table().length).toBeGreaterThan(4);
    expect(problemsOf(table())).toEqual([]);
  });

  it('the check refuses an empty detail, a missing field and a field said required that is optional', () => {
    const rows = table().map((r) => [...r]);
    const sent = rows.find((r) => r[0] === '`message.sent`') as string[];
    sent[2] = '';
    const parked = rows.find((r) => r[0] === '`message.parked`') as string[];
    parked[2] = '`outcome` (`parked`)';
    const failed = rows.find((r) => r[0] === '`message.failed`') as string[];
    failed[2] = '`outcome`, `source`, `reason`; optional: `errors`, `pricing`, `conversation`, `fallbackMessageId`';
    expect(problemsOf(rows)).toEqual([
      expect.stringContaining('message.parked: detail fields documented "outcome"'),
      expect.stringContaining('message.sent: detail fields documented ""'),
      expect.stringContaining('message.sent: optional detail fields documented ""'),
      expect.stringContaining('message.failed: detail fields documented "outcome, reason, source"'),
      expect.stringContaining('message.failed: optional detail fields documented "conversation, errors, fallbackMessageId, pricing"'),
    ]);
  });
});

describe('routes', () => {
  it('documents every route of the stack, and names only routes it has', () => {
    const routes = Object.values(prod.template.Resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => r.Properties.RouteKey as string);
    expect(routes.length).toBeGreaterThan(2);
    const spans = pages.flatMap((p) => quoted(p.text).map((q) => ({ where: p.path, q })));
    expect(routes.filter((r) => !spans.some((s) => s.q.startsWith(r))).map((r) => `no page documents \`${r}\``)).toEqual([]);
    const named = spans.flatMap((s) => [...s.q.matchAll(/^(GET|POST|PUT|PATCH|DELETE) (\/\S*)/g)].map((m) => ({ where: s.where, route: `${m[1]} ${(m[2] as string).replace(/\?.*$/, '')}` })));
    expect(named.filter((n) => !routes.includes(n.route)).map((n) => `${n.where}: the stack has no route ${n.route}`)).toEqual([]);
  });
});

describe('paths and links', () => {
  it('every repository path quoted in the docs exists', () => {
    const problems = pages.flatMap((p) =>
      quoted(p.text)
        .flatMap((q) => q.match(/(?<![\w./-])(?:lambdas|lib|bin|local|bench|test|docs|\.ci)\/[\w./-]*\w/g) ?? [])
        .filter((path) => !existsSync(join(ROOT, path)))
        .map((path) => `${p.path}: ${path} does not exist`),
    );
    expect([...new Set(problems)]).toEqual([]);
  });

  it('every relative link points at a page and a heading that exist, and every page is in the index', () => {
    const anchors = new Map(pages.map((p) => [p.path, new Set(headings(p.text).map((h) => slug(h.title)))]));
    const problems: string[] = [];
    for (const p of pages) {
      for (const m of p.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] as string;
        if (/^[a-z]+:/.test(link)) continue;
        const [file = '', anchor] = link.split('#');
        const target = file === '' ? p.path : normalize(join(dirname(p.path), file));
        if (!anchors.has(target)) problems.push(`${p.path}: link ${link}: no page ${target}`);
        else if (anchor && !anchors.get(target)?.has(anchor)) problems.push(`${p.path}: link ${link}: no heading #${anchor} in ${target}`);
      }
    }
    const index = page('docs/README.md');
    for (const p of pages.filter((x) => x.path.startsWith('docs/') && x.path !== 'docs/README.md')) {
      if (!index.includes(`](${p.path.slice('docs/'.length)})`)) problems.push(`docs/README.md: add ${p.path} to the index`);
    }
    if (!page('README.md').includes('](docs/README.md)')) problems.push('README.md: link the docs index');
    expect(problems).toEqual([]);
  });
});
