import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { ConfigError } from '../core/shared/errors.js';

/** A secret comes either as a value (local) or as a Secrets Manager id (AWS); exactly one must be set. */
export type SecretRef = { readonly value: string } | { readonly secretId: string };

/** Seconds a secret fetched from Secrets Manager is reused before it is read again (so rotation takes effect). */
const SECRET_MAX_AGE_SECONDS = 300;

/**
 * Reads a secret either from its configured value (local) or from Secrets Manager (AWS, cached by Powertools).
 * An empty or missing secret is an error: callers fail closed.
 */
export const readSecret = async (ref: SecretRef, what: string): Promise<string> => {
  if ('value' in ref) return ref.value;
  const value = await getSecret(ref.secretId, { maxAge: SECRET_MAX_AGE_SECONDS });
  const text = typeof value === 'string' ? value.trim() : value instanceof Uint8Array ? Buffer.from(value).toString('utf8').trim() : '';
  if (text.length === 0) throw new ConfigError(`${what} secret ${ref.secretId} is empty; set its value (see docs/deploying.md)`);
  return text;
};

/** App secrets are comma-separated so an old and a new one can both be accepted during rotation. */
export const splitSecrets = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
