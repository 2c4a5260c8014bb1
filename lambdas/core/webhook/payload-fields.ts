import * as z from 'zod/mini';
import { boundedText } from '../shared/ids.js';

/** The zod pieces the webhook's value schemas share. */

/** Ids come as strings, but a number must not break the receiver. */
export const id = z.pipe(
  z.union([z.string().check(z.minLength(1)), z.number().check(z.int(), z.nonnegative())]),
  z.transform(String),
);

/** An optional part that, when malformed, is treated as absent rather than failing the whole change. */
export const lenient = <T extends z.ZodMiniType>(schema: T) => z.catch(z.optional(schema), undefined);

/** Text copied into stored records: bounded and well-formed whatever was sent. */
export const text = z.pipe(z.union([z.string(), z.number()]), z.transform((s: string | number) => boundedText(String(s))));
