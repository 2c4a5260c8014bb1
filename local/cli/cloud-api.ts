/** `cloud-api refuse|accept|statuses`: how the embedded Cloud API stand-in of `npm start` treats a phone number. */
import { z } from 'zod';
import { type Command, type Ctx, optionalId, required, unknownWord } from './context.js';
import { CliError, UsageError } from './errors.js';
import { checkJson } from './json.js';

/** What the stand-in answers about a number (local/cloud-api-stand-in.ts). */
const StandInAnswer = z.looseObject({ refusing: z.looseObject({ code: z.number() }).nullable() });

/** `cloud-api statuses --phone-number-id <id> (--until <status> | --fail <code> | --off)`: the stand-in's status webhooks. */
const cloudApiStatuses = async (ctx: Ctx, phoneNumberId: string): Promise<void> => {
  const { o, io } = ctx;
  if ([o.until !== undefined, o.fail !== undefined, o.off === true].filter(Boolean).length !== 1) {
    throw new UsageError('cloud-api', 'statuses: give one of --until sent|delivered|read, --fail <code>, --off');
  }
  const fail = o.fail === undefined ? undefined : Number(o.fail);
  if (fail !== undefined && !(Number.isInteger(fail) && fail > 0)) throw new UsageError('cloud-api', '--fail must be a positive integer');
  const steps = ['sent', 'delivered', 'read'];
  if (o.until !== undefined && !steps.includes(o.until)) throw new UsageError('cloud-api', '--until must be sent, delivered or read');
  const wabaId = optionalId(o, 'waba', 'cloud-api');
  const waba = wabaId ? { wabaId } : {};
  const plan = o.off ? null : fail !== undefined ? { fail, ...waba } : { until: o.until, ...waba };
  const info = await (await ctx.target()).pipeline();
  if (!info.cloudApiEmbedded) throw new CliError(`cloud-api: the pipeline uses ${info.cloudApiUrl}, not the embedded stand-in`);
  const r = await io.fetch(`${info.cloudApiUrl}/_stand-in/numbers/${encodeURIComponent(phoneNumberId)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ statuses: plan }),
  });
  const body = await r.text();
  if (r.status !== 200) throw new CliError(`cloud-api: the stand-in refused: ${r.status} ${body}`);
  io.out(
    plan === null
      ? `cloud-api stand-in: no status webhooks for ${phoneNumberId}`
      : `cloud-api stand-in: messages from ${phoneNumberId} get status webhooks: ${'fail' in plan ? `sent, then failed with ${plan.fail}` : steps.slice(0, steps.indexOf(o.until as string) + 1).join(', ')}`,
  );
};

/** `cloud-api refuse|accept|statuses --phone-number-id <id> ...`: tells the embedded stand-in how a number behaves. */
export const cloudApi: Command = async (args, ctx) => {
  const { o, io } = ctx;
  const action = args[0];
  if (action !== 'refuse' && action !== 'accept' && action !== 'statuses') {
    throw action
      ? unknownWord('cloud-api', `unknown action "${action}": refuse, accept or statuses`, action, ['refuse', 'accept', 'statuses'])
      : new UsageError('cloud-api', 'refuse, accept or statuses?');
  }
  const phoneNumberId = required(o, 'phone-number-id', 'cloud-api');
  if (action === 'statuses') return cloudApiStatuses(ctx, phoneNumberId);
  const code = o.code === undefined ? undefined : Number(o.code);
  if (code !== undefined && !(Number.isInteger(code) && code > 0)) throw new UsageError('cloud-api', '--code must be a positive integer');
  const info = await (await ctx.target()).pipeline();
  if (!info.cloudApiEmbedded) throw new CliError(`cloud-api: the pipeline uses ${info.cloudApiUrl}, not the embedded stand-in`);
  const r = await io.fetch(`${info.cloudApiUrl}/_stand-in/numbers/${encodeURIComponent(phoneNumberId)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(action === 'refuse' ? { refuse: true, ...(code !== undefined ? { code } : {}) } : { refuse: false }),
  });
  const body = await r.text();
  if (r.status !== 200) throw new CliError(`cloud-api: the stand-in refused: ${r.status} ${body}`);
  const answer = checkJson(body, StandInAnswer);
  if (!answer.ok) throw new CliError(`cloud-api: the stand-in answered something this CLI does not read: ${answer.problem}`);
  const refusing = answer.value.refusing;
  io.out(
    refusing
      ? `cloud-api stand-in: sends from ${phoneNumberId} are refused with code ${refusing.code}; probes of it fail with 100/33`
      : `cloud-api stand-in: ${phoneNumberId} sends and answers probes as a connected number`,
  );
};

