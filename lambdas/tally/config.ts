import * as z from 'zod/mini';
import { awsEnv, awsFrom, type Env, parseConfig } from '../shared/config.js';

/** The tally function needs only the table it writes the counters to (its records come from the table's stream). */
export const tallyConfigSchema = z.pipe(
  z.object({ ...awsEnv() }),
  z.transform((c) => awsFrom(c)),
);

export type TallyConfig = z.infer<typeof tallyConfigSchema>;

export const loadTallyConfig = (env: Env = process.env): TallyConfig => parseConfig(tallyConfigSchema, env, 'tally');
