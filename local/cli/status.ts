/** `status`, `client reset` (alias `reset`) and `message`: the status API, against the local pipeline or a stack. */
import { z } from 'zod';
import { type Command, type Ctx, checkId, unknownWord, wabaArg } from './context.js';
import { CliError, UsageError } from './errors.js';
import { checkJson } from './json.js';
import { formatStatus, StatusView } from './status-view.js';

/** The status route's answer, or a one-line error (404: never seen; 400: the route's own message). */
const readAnswer = async (r: Response, command: string, waba: string): Promise<unknown> => {
  const text = await r.text();
  if (r.status === 404) throw new CliError(`${command}: no events received for WABA ${waba}`);
  if (r.status === 403) throw new CliError(`${command}: forbidden (${r.status}): the AWS principal may not call the status route`);
  const json = checkJson(text, z.unknown());
  const body = json.ok ? json.value : undefined;
  if (r.status !== 200) {
    const why = (body as { error?: unknown; message?: unknown } | undefined)?.error ?? (body as { message?: unknown } | undefined)?.message ?? text.slice(0, 200);
    throw new CliError(`${command}: the status route answered ${r.status}: ${String(why)}`);
  }
  if (body === undefined) throw new CliError(`${command}: the status route answered something other than JSON`);
  return body;
};

const printView = (ctx: Ctx, command: string, body: unknown): void => {
  if (ctx.o.json) {
    ctx.io.out(JSON.stringify(body, null, 2));
    return;
  }
  const view = StatusView.safeParse(body);
  if (!view.success) throw new CliError(`${command}: the status route's answer is not one this CLI reads; use --json`);
  for (const line of formatStatus(view.data)) ctx.io.out(line);
};

export const status: Command = async (args, ctx) => {
  const waba = wabaArg(args, ctx.o, 'status');
  const target = await ctx.target();
  printView(ctx, 'status', await readAnswer(await target.api('GET', `/clients/${encodeURIComponent(waba)}`), 'status', waba));
};

const resetAs = async (command: string, args: readonly string[], ctx: Ctx): Promise<void> => {
  const waba = wabaArg(args, ctx.o, command);
  const target = await ctx.target();
  const r = await target.api('POST', `/clients/${encodeURIComponent(waba)}/reset`, JSON.stringify(ctx.o.reason ? { reason: ctx.o.reason } : {}));
  printView(ctx, command, await readAnswer(r, command, waba));
};

/** `reset <wabaId>`: the alias of `client reset`. */
export const reset: Command = (args, ctx) => resetAs('reset', args, ctx);

export const client: Command = async (args, ctx) => {
  if (args[0] !== 'reset') throw args[0] ? unknownWord('client', `unknown client action "${args[0]}"`, args[0], ['reset']) : new UsageError('client', 'which action? (reset)');
  await resetAs('client', args.slice(1), ctx);
};

/** `message <wabaId> <messageId>`: GET /messages/{wabaId}/{messageId}, printed as JSON. */
export const message: Command = async (args, ctx) => {
  const waba = wabaArg(args, ctx.o, 'message');
  if (!args[1]) throw new UsageError('message', 'which message? give the WABA id and the messageId');
  const messageId = checkId('message', 'message-id', args[1], false);
  const target = await ctx.target();
  const r = await target.api('GET', `/messages/${encodeURIComponent(waba)}/${encodeURIComponent(messageId)}`);
  if (r.status === 404) throw new CliError(`message: no message ${messageId} known for WABA ${waba}`);
  ctx.io.out(JSON.stringify(await readAnswer(r, 'message', waba), null, 2));
};
