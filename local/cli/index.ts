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
import { closest, didYouMean } from './suggest.js';
import { webhook, webhookFile } from './webhook.js';

export { formatStatus } from './status-view.js';

/** The options each command accepts (besides --help); any other is a usage error naming the command. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  webhook: ['url', 'secret', 'waba', 'time', 'reason'],
  'webhook-file': ['url', 'secret'],
  send: [...TARGET_OPTIONS, 'waba', 'phone-number-id', 'to', 'text', 'payload-file', 'fallback-file', 'message-id', 'not-after', 'envelope-file'],
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

/** Why a target option does not apply to a command that works on the local pipeline only. */
const LOCAL_ONLY: Record<string, string> = {
  webhook: 'it drives the local pipeline only (against a stack, Meta sends the webhooks)',
  'webhook-file': 'it drives the local pipeline only (against a stack, Meta sends the webhooks)',
  'cloud-api': "it drives the local pipeline's Cloud API stand-in only (against a stack, the Cloud API is real)",
  events: "it reads the local pipeline's relay-events tail queue only (against a stack, subscribe a queue of your own to the topic RelayEventsTopicArn: docs/relay-events.md)",
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

/** The option a parse error names (`--bogus`), or ''. */
const optionOf = (error: unknown): string => /'(-[^' ]+)/.exec((error as { message?: string }).message ?? '')?.[1] ?? '';

/** Node's parser messages, in one line without its advice about `--` (which never applies here). */
const parseProblem = (error: unknown): string => {
  const e = error as { code?: string; message?: string };
  const option = optionOf(error);
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

/** A mistake whose line says what was meant: that line and where the help is, not the help itself. */
const brief = (io: CliIo, command: string | undefined, message: string): number => {
  (io.err ?? io.out)(`error: ${message}\n(npm run cli -- ${command ? `${command} ` : ''}--help for ${command ? 'its usage' : 'every command'})`);
  return 2;
};

const unknownCommand = (io: CliIo, command: string): number => {
  const hint = didYouMean(command, Object.keys(COMMANDS));
  return hint ? brief(io, undefined, `unknown command "${command}"${hint}`) : usage(io, undefined, `unknown command "${command}"`);
};

/** A command line the parser refused: a mistyped command or option gets "did you mean", any other mistake the help. */
const parseFailure = (io: CliIo, argv: readonly string[], error: unknown): number => {
  const word = commandOf(argv);
  if (word !== undefined && !COMMANDS[word] && closest(word, Object.keys(COMMANDS))) return unknownCommand(io, word);
  const command = word !== undefined && COMMANDS[word] ? word : undefined;
  const prefix = command ? `${command}: ` : '';
  const option = optionOf(error);
  if ((error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option.startsWith('--')) {
    const choices = command ? [...(COMMAND_OPTIONS[command] ?? []), 'help'] : Object.keys(CLI_OPTIONS);
    const hint = didYouMean(option.slice(2), choices, (c) => `--${c}`);
    if (hint) return brief(io, command, `${prefix}${parseProblem(error)}${hint}`);
  }
  return usage(io, command, `${prefix}${parseProblem(error)}`);
};

/** Why an option the CLI knows does not apply to this command. */
const notApplicable = (command: string, option: OptionName): string => {
  if (TARGET_OPTIONS.includes(option)) return `: ${LOCAL_ONLY[command] ?? 'it is not one of its target options'}`;
  const owners = Object.keys(COMMAND_OPTIONS).filter((c) => c !== 'reset' && COMMAND_OPTIONS[c]?.includes(option));
  return owners.length > 0 ? ` (it is an option of ${owners.join(', ')})` : '';
};

export const runCli = async (argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof CLI_OPTIONS }>>;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: CLI_OPTIONS });
  } catch (error) {
    return parseFailure(io, argv, error);
  }
  const [command, ...rest] = parsed.positionals;
  if (!command) {
    io.out(HELP.main as string);
    return parsed.values.help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) return unknownCommand(io, command);
  if (parsed.values.help) {
    io.out(HELP[command] as string);
    return 0;
  }
  const allowed = COMMAND_OPTIONS[command] ?? [];
  const extra = (Object.keys(parsed.values) as OptionName[]).filter((k) => k !== 'help' && !allowed.includes(k));
  const first = extra[0];
  if (first !== undefined) {
    return usage(io, command, `${command}: --${first} does not apply to ${command}${notApplicable(command, first)}`);
  }
  const fromEnv = env.META_APP_SECRET?.split(',')[0]?.trim();
  const o: Options = {
    ...parsed.values,
    url: (parsed.values.url ?? `http://127.0.0.1:${env.PORT || LOCAL_DEFAULTS.PORT}`).replace(/\/+$/, ''),
    secret: parsed.values.secret ?? (fromEnv || DEV_SECRETS.META_APP_SECRET),
    secretFrom: parsed.values.secret !== undefined ? '--secret' : fromEnv ? 'META_APP_SECRET (its first value)' : 'the development default (META_APP_SECRET is not set)',
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
    if (error instanceof UsageError) return (error.brief ? brief : usage)(io, error.command, `${error.command}: ${error.message}`);
    const message = error instanceof CliError ? error.message : `${command}: ${(error as Error).message}`;
    (io.err ?? io.out)(`error: ${message}`);
    return 1;
  } finally {
    if (target) await target.then((t) => t.destroy()).catch(() => undefined);
  }
};

