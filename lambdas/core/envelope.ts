import { z } from 'zod';

/**
 * The message upstream systems enqueue on the outbound queue. `payload` goes to the Cloud API as it is; only the
 * fields the relay relies on are checked. Unknown top-level fields are refused so a misspelt `notAfter` cannot be
 * silently ignored.
 */
export const outboundEnvelopeSchema = z.strictObject({
  messageId: z.string().min(1).max(128),
  wabaId: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"'),
  phoneNumberId: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"'),
  payload: z.looseObject({
    messaging_product: z.literal('whatsapp'),
    to: z.string().min(1),
  }),
  notAfter: z.iso.datetime({ offset: true }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export type OutboundEnvelope = z.infer<typeof outboundEnvelopeSchema>;

export type EnvelopeParse =
  | { readonly ok: true; readonly envelope: OutboundEnvelope }
  | { readonly ok: false; readonly problem: string };

export const parseEnvelope = (body: string): EnvelopeParse => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, problem: 'body is not JSON' };
  }
  const r = outboundEnvelopeSchema.safeParse(json);
  if (r.success) return { ok: true, envelope: r.data };
  const problems = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return { ok: false, problem: problems.join('; ') };
};
