/**
 * What every CLI command shares: the options it may be given, the parsed values, the I/O, the target, and the checks
 * of its arguments (a mistake is a {@link UsageError}: one line, then the command's own help, exit code 2).
 */
import { MAX_MESSAGE_ID, outboundEnvelopeSchema } from '../../lambdas/core/outbound/envelope.js';
import { ID_RULE, isRelayId } from '../../lambdas/core/shared/ids.js';
import type { RelayTarget } from '../target.js';
import { UsageError } from './errors.js';
import { didYouMean } from './suggest.js';

export const CLI_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  stage: { type: 'string' },
  stack: { type: 'string' },
  outputs: { type: 'string' },
  secret: { type: 'string' },
  waba: { type: 'string' },
  time: { type: 'string' },
  reason: { type: 'string' },
  'phone-number-id': { type: 'string' },
  to: { type: 'string' },
  text: { type: 'string' },
  'payload-file': { type: 'string' },
  'fallback-file': { type: 'string' },
  'envelope-file': { type: 'string' },
  'message-id': { type: 'string' },
  'not-after': { type: 'string' },
  max: { type: 'string' },
  code: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'older-than': { type: 'string' },
  'newer-than': { type: 'string' },
  follow: { type: 'boolean' },
  until: { type: 'string' },
  fail: { type: 'string' },
  off: { type: 'boolean' },
  type: { type: 'string' },
} as const;

export type OptionName = keyof typeof CLI_OPTIONS;
export const TARGET_OPTIONS: readonly OptionName[] = ['url', 'stage', 'stack', 'outputs'];

type Values = { -readonly [K in OptionName]?: (typeof CLI_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
export interface Options extends Values {
  url: string;
  secret: string;
  /** Where the secret came from, for messages (never the secret itself). */
  secretFrom: string;
}

export interface CliIo {
  out(line: string): void;
  /** Errors (default: `out`). */
  err?(line: string): void;
  fetch: typeof fetch;
  /** Resolves when the user asks to stop (Ctrl-C); `--follow` ends then. */
  stopped?: Promise<void>;
}

export interface Ctx {
  readonly o: Options;
  readonly io: CliIo;
  readonly env: Record<string, string | undefined>;
  target(): Promise<RelayTarget>;
}

/** A command: its words after the command word, and the context. */
export type Command = (args: readonly string[], ctx: Ctx) => Promise<void>;

/** A required option; an id is also checked by its rule ({@link checkId}). */
export const required = (o: Options, name: IdKind | 'to' | 'text', command: string): string => {
  const v = o[name];
  if (!v) throw new UsageError(command, `--${name} is required`);
  return name === 'to' || name === 'text' ? v : checkId(command, name, v);
};

/** The ids a command line may carry, each with the rule the relay keys it by. */
const IDS = {
  waba: { what: 'a WABA id', valid: isRelayId, rule: ID_RULE },
  'phone-number-id': { what: 'a phone number id', valid: isRelayId, rule: ID_RULE },
  'message-id': { what: 'a message id', valid: (s: string) => outboundEnvelopeSchema.shape.messageId.safeParse(s).success, rule: `must be 1-${MAX_MESSAGE_ID} characters` },
} as const;
export type IdKind = keyof typeof IDS;

/**
 * `value` checked by the rule the relay applies to that id (lambdas/core/ids.ts; a message id by the envelope's), before
 * anything is called or enqueued: a usage error otherwise. `flag`: the value came from `--<kind>` (named in the error).
 */
export const checkId = (command: string, kind: IdKind, value: string, flag = true): string => {
  const id = IDS[kind];
  if (!id.valid(value)) throw new UsageError(command, `${flag ? `--${kind} ` : ''}"${value}" is not ${id.what}: it ${id.rule}`);
  return value;
};

/** `--<kind>` when given, checked by {@link checkId}. */
export const optionalId = (o: Options, kind: IdKind, command: string): string | undefined => {
  const v = o[kind];
  return v === undefined ? undefined : checkId(command, kind, v);
};

export const wabaArg = (args: readonly string[], o: Options, command: string): string => {
  const positional = args[0];
  if (positional !== undefined) return checkId(command, 'waba', positional, false);
  if (!o.waba) throw new UsageError(command, 'which WABA? give its id');
  return checkId(command, 'waba', o.waba);
};

export const positiveInt = (value: string | undefined, fallback: number, command: string, name: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 1) throw new UsageError(command, `--${name} must be a positive whole number`);
  return n;
};

/** A word the command does not know (an action, an event): `message`, and "did you mean" when one of `choices` is close. */
export const unknownWord = (command: string, message: string, word: string, choices: readonly string[]): UsageError => {
  const hint = didYouMean(word, choices);
  return new UsageError(command, `${message}${hint}`, hint !== '');
};
