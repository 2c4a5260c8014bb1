/**
 * Schemas use zod's tree-shakable "mini" build (`import * as z from 'zod/mini'` in each module): the classic build
 * adds ~440 KB to every bundle, mini about 15 KB. Importing this module configures English messages once.
 * (Re-exporting the `z` namespace from here would defeat tree-shaking.)
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

/** The first problems of a failed parse, as `path: message`. */
export const describeIssues = (
  error: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] },
  max = 1,
): string =>
  error.issues
    .slice(0, max)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ') || 'invalid';
