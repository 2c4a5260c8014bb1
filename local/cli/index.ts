/**
 * `npm run cli -- <command>`: drive the local pipeline (`npm start`) as Meta and an upstream system would, and operate
 * it or a deployed stack (`--stage`, `--stack`, `--outputs`; see ../target.ts). This module reads the command line
 * and runs one command; each command lives in its own file beside it.
 */
import { parseArgs } from 'node:util';
import { DEV_SECRETS, LOCAL_DEFAULTS } from '../pipeline.js';
import { type RelayTarget, resolveTarget } from '../target.js';
import { cloudApi } from './cloud-api.js';
import { CLI_OPTIONS, type CliIo, type Command, type Ctx, type OptionName, type Options, TARGET_OPTIONS } from './context.js';
import { deadLetters } from './dead-letters.js';
import { CliError, UsageError } from './errors.js';
import { events } from './events.js';
import { HELP } from './help.js';
import { inbound } from './inbound.js';
import { parked } from './parked.js';
import { send } from './send.js';
import { client, message, reset, status } from './status.js';
import { webhook, webhookFile } from './webhook.js';

export type { CliIo } from './context.js';
export { UsageError } from './errors.js';
export { formatRelayEvent } from './events.js';
export { formatStatus } from './status-view.js';

/** The options each command accepts (besides --help); any other is a usage error naming the command. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  webhook: ['url', 'secret', 'waba', 'time', 'reason'],
  'webhook-file': ['url', 'secret'],
  send: [...TARGET_OPTIONS, 'waba', 'phone-number-id', 'to', 'text', 'payload-file', 'message-id', 'not-after'],
  status: [...TARGET_OPTIONS, 'waba', 'json'],
  parked: [...TARGET_OPTIONS, 'waba', 'max'],
  client: [...TARGET_OPTIONS, 'waba', 'reason', 'json'],
  reset: [...TARGET_OPTIONS, 'waba', 'reason', 'json'],
  'cloud-api': ['url', 'phone-number-id', 'code', 'until', 'fail', 'off', 'waba'],
  message: [...TARGET_OPTIONS],
  'dead-letters': [...TARGET_OPTIONS, 'reason', 'waba', 'older-than', 'newer-than', 'max', 'dry-run'],
  inbound: [...TARGET_OPTIONS, 'max', 'follow'],
  events: ['url', 'type', 'waba', 'max'],
};

const COMMANDS: Record<string, Command> = {
  webhook,
  'webhook-file': webhookFile,
  send,
  status,
  parked,
  client,
  reset,
  'dead-letters': deadLetters,
  inbound,
  'cloud-api': cloudApi,
  message,
  events,
};

/** Node's parser messages, in one line without its advice about `--` (which never applies here). */
const parseProblem = (error: unknown): string => {
  const e = error as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(e.message ?? '')?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(e.message ?? '') ? `${option} takes no value` : `${option} needs a value`;
    default:
      return e.message?.split('. ')[0] ?? 'cannot read the command line';
  }
};

/** The command word of an argv the strict parser refused (the first word that is not an option or its value). */
const commandOf = (argv: readonly string[]): string | undefined => {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return argv[i + 1];
    if (a.startsWith('-')) {
      const name = a.replace(/^--?/, '').split('=')[0] as string;
      const spec = (CLI_OPTIONS as Record<string, { type: string }>)[name];
      if (spec?.type === 'string' && !a.includes('=')) i++;
      continue;
    }
    return a;
  }
  return undefined;
};

const usage = (io: CliIo, command: string | undefined, message: string): number => {
  const err = io.err ?? io.out;
  const help = (command && HELP[command]) || HELP.main;
  err(`error: ${message}\n\n${help}`);
  return 2;
};

export const runCli = async (argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof CLI_OPTIONS }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: CLI_OPTIONS });
  } catch (error) {
    const command = commandOf(argv);
    return usage(io, command && COMMANDS[command] ? command : undefined, `${command && COMMANDS[command] ? `${command}: ` : ''}${parseProblem(error)}`);
  }
  const [command, ...rest] = parsed.positionals;
  if (!command) {
    io.out(HELP.main as string);
    return parsed.values.help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) return usage(io, undefined, `unknown command "${command}"`);
  if (parsed.values.help) {
    io.out(HELP[command] as string);
    return 0;
  }
  const allowed = COMMAND_OPTIONS[command] ?? [];
  const extra = (Object.keys(parsed.values) as OptionName[]).filter((k) => k !== 'help' && !allowed.includes(k));
  const first = extra[0];
  if (first !== undefined) {
    const why = TARGET_OPTIONS.includes(first) ? ': it drives the local pipeline only (against a stack, Meta sends the webhooks and the Cloud API is real)' : '';
    return usage(io, command, `${command}: --${first} does not apply to ${command}${why}`);
  }
  const o: Options = {
    ...parsed.values,
    url: (parsed.values.url ?? `http://127.0.0.1:${env.PORT || LOCAL_DEFAULTS.PORT}`).replace(/\/+$/, ''),
    secret: parsed.values.secret ?? (env.META_APP_SECRET?.split(',')[0]?.trim() || DEV_SECRETS.META_APP_SECRET),
  };
  let target: Promise<RelayTarget> | undefined;
  const ctx: Ctx = {
    o,
    io,
    env,
    target: () => {
      target ??= resolveTarget({ url: o.url, stage: o.stage, stack: o.stack, outputs: o.outputs }, env, io.fetch);
      return target;
    },
  };
  try {
    await run(rest, ctx);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usage(io, error.command, `${error.command}: ${error.message}`);
    const message = error instanceof CliError ? error.message : `${command}: ${(error as Error).message}`;
    (io.err ?? io.out)(`error: ${message}`);
    return 1;
  } finally {
    if (target) await target.then((t) => t.destroy()).catch(() => undefined);
  }
};

