/** `webhook <event>` and `webhook-file <path>`: sign and POST webhooks to the local pipeline, as Meta would. */
import { readFile } from 'node:fs/promises';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { type Command, type Ctx, type Options, required, unknownWord } from './context.js';
import { CliError, UsageError } from './errors.js';

const EVENTS: Record<string, { event: string; extra?: (o: Options) => Record<string, unknown>; partner?: boolean }> = {
  offboard: { event: 'ACCOUNT_OFFBOARDED' },
  reconnect: { event: 'ACCOUNT_RECONNECTED' },
  'partner-removed': {
    event: 'PARTNER_REMOVED',
    partner: true,
    extra: (o) => ({ disconnection_info: { reason: o.reason ?? 'USER_RE_REGISTERED', initiated_by: 'USER' } }),
  },
  'partner-added': { event: 'PARTNER_ADDED', partner: true },
  deleted: { event: 'ACCOUNT_DELETED' },
  disable: { event: 'DISABLED_UPDATE', extra: () => ({ ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: new Date().toDateString() } }) },
  reinstate: { event: 'DISABLED_UPDATE', extra: () => ({ ban_info: { waba_ban_state: 'REINSTATE', waba_ban_date: new Date().toDateString() } }) },
};

const postSigned = async (ctx: Ctx, command: string, body: Buffer): Promise<void> => {
  const { o, io } = ctx;
  const r = await io
    .fetch(`${o.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, o.secret) },
      body,
    })
    .catch(() => {
      throw new CliError(`no pipeline answers at ${o.url}; start it with "npm start" or pass --url`);
    });
  const text = await r.text();
  io.out(`POST /webhook -> ${r.status} ${text}`);
  if (r.status === 401) {
    throw new CliError(
      `${command}: the webhook was refused with 401: the pipeline checks the signature with its app secret (META_APP_SECRET where npm start runs; its banner shows the last 4 characters) and this CLI signed with ${o.secretFrom}. Pass --secret <the pipeline's app secret>, or export the same META_APP_SECRET here`,
    );
  }
  if (r.status !== 200) throw new CliError(`${command}: the webhook was refused with ${r.status}`);
};

export const webhook: Command = async (args, ctx) => {
  const { o } = ctx;
  const name = args[0];
  if (!name) throw new UsageError('webhook', 'which event?');
  const known = EVENTS[name];
  if (!known && !/^[A-Z][A-Z0-9_]+$/.test(name)) throw unknownWord('webhook', `unknown event "${name}"`, name, Object.keys(EVENTS));
  const waba = required(o, 'waba', 'webhook');
  const time = o.time ?? String(Math.floor(Date.now() / 1000));
  if (!/^\d+$/.test(time)) throw new UsageError('webhook', '--time must be Unix seconds');
  const event = known?.event ?? name;
  const value: Record<string, unknown> = { event, ...(known?.extra?.(o) ?? {}) };
  let entryId = waba;
  if (known?.partner) {
    value.waba_info = { waba_id: waba, owner_business_id: 'local-owner' };
    entryId = 'local-partner-business';
  }
  const payload = { object: 'whatsapp_business_account', entry: [{ id: entryId, time: Number(time), changes: [{ field: 'account_update', value }] }] };
  await postSigned(ctx, 'webhook', Buffer.from(JSON.stringify(payload)));
};

export const webhookFile: Command = async (args, ctx) => {
  const path = args[0];
  if (!path) throw new UsageError('webhook-file', 'which file?');
  const bytes = await readFile(path).catch((e: Error) => {
    throw new CliError(`webhook-file: cannot read ${path}: ${e.message}`);
  });
  await postSigned(ctx, 'webhook-file', bytes);
};
