/**
 * Schemas use zod's tree-shakable "mini" build (`import * as z from 'zod/mini'` in each module): the classic build
 * adds ~440 KB to every bundle, mini about 15 KB. Importing this module configures English messages once.
 * (Re-exporting the `z` namespace from here would defeat tree-shaking.)
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

/**
 * A schema built on its first use instead of at import, for a path a function may never take on its first invocation
 * (a cold start pays tens of microseconds per zod call, and most of these run once). `lazily(() => z.object(...))()`
 * returns the same schema every time.
 */
export const lazily = <S>(build: () => S): (() => S) => {
  let built: S | undefined;
  return () => (built ??= build());
};

/** The first problems of a failed parse, as `path: message`. */
export const describeIssues = (
  error: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] },
  max = 1,
): string =>
  error.issues
    .slice(0, max)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ') || 'invalid';

type Issues = Parameters<typeof describeIssues>[0];

/**
 * JSON text read by `schema`: the value, or what is wrong (`body is not JSON`, or the first `maxIssues` issues). The
 * relay's one reader of a queue message body.
 */
export const parseJson = <T>(
  body: string,
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: Issues } },
  maxIssues: number,
): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string } => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, problem: 'body is not JSON' };
  }
  const r = schema.safeParse(json);
  return r.success ? { ok: true, value: r.data } : { ok: false, problem: describeIssues(r.error, maxIssues) };
};
