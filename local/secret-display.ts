/**
 * How `npm start` shows a secret it uses: where it came from (its variable, or the development default) and at most
 * its last 4 characters, never the value whole. Shorter values (under 12 characters) show none of it.
 */
import { z } from 'zod';

/** Values shorter than this show no characters at all: 4 of them would be too much of the value. */
const MIN_SHOWN_LENGTH = 12;

/** `ends "abcd"`, or `not shown (short)`. */
export const secretTail = (value: string): string => (value.length >= MIN_SHOWN_LENGTH ? `ends "${value.slice(-4)}"` : 'not shown (short)');

/** WHATSAPP_ACCESS_TOKEN may be a JSON token map (docs/configuration.md). */
const TokenMap = z.object({ default: z.string().optional(), byWaba: z.record(z.string(), z.string()).optional() });

const describeValue = (name: string, value: string): string => {
  if (name === 'WHATSAPP_ACCESS_TOKEN' && value.trim().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch {
      json = undefined;
    }
    const map = TokenMap.safeParse(json);
    if (map.success) {
      const perWaba = Object.keys(map.data.byWaba ?? {}).length;
      return `a token map: ${map.data.default === undefined ? 'no default' : `default ${secretTail(map.data.default)}`}, ${perWaba} per-WABA token(s)`;
    }
    return secretTail(value);
  }
  const values = name === 'META_APP_SECRET' ? value.split(',').map((v) => v.trim()).filter((v) => v !== '') : [value];
  return values.length > 1 ? `${values.length} values (rotation): ${values.map(secretTail).join(', ')}` : secretTail(values[0] ?? '');
};

/** The banner's text for one secret: `from META_APP_SECRET, ends "abcd"` or `development default, ends "cret" (set ...)`. */
export const describeSecret = (name: string, value: string, fromDefault: boolean): string =>
  fromDefault ? `development default, ${describeValue(name, value)} (set ${name} to change)` : `from ${name}, ${describeValue(name, value)}`;
