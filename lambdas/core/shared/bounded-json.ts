import { createHash } from 'node:crypto';

/**
 * JSON text for any value `JSON.parse` can produce, at any depth. `JSON.stringify` recurses and throws past a few
 * thousand levels; a signed webhook may nest far deeper (3 MB of `[`), so the relay falls back to an iterative writer
 * that gives the same text.
 */
export const serializeJson = (value: unknown): string => {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? 'null' : json;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return serializeIteratively(value);
  }
};

type Frame =
  | { readonly kind: 'array'; readonly items: readonly unknown[]; index: number }
  | { readonly kind: 'object'; readonly obj: Record<string, unknown>; readonly keys: readonly string[]; index: number; wrote: boolean };

const scalar = (v: unknown): string | undefined => {
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  return undefined;
};

const serializeIteratively = (root: unknown): string => {
  const out: string[] = [];
  const stack: Frame[] = [];
  const open = (v: unknown): void => {
    const s = scalar(v);
    if (s !== undefined) out.push(s);
    else if (Array.isArray(v)) {
      out.push('[');
      stack.push({ kind: 'array', items: v, index: 0 });
    } else if (v && typeof v === 'object') {
      out.push('{');
      stack.push({ kind: 'object', obj: v as Record<string, unknown>, keys: Object.keys(v), index: 0, wrote: false });
    } else out.push('null');
  };
  open(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    if (top.kind === 'array') {
      if (top.index >= top.items.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (top.index > 0) out.push(',');
      open(top.items[top.index++]);
    } else {
      if (top.index >= top.keys.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      const key = top.keys[top.index++] as string;
      const v = top.obj[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      if (top.wrote) out.push(',');
      top.wrote = true;
      out.push(JSON.stringify(key), ':');
      open(v);
    }
  }
  return out.join('');
};

/** How much of a value that cannot be forwarded whole is kept: its first 16 KiB of JSON text. */
const TRUNCATED_TEXT_CHARS = 16 * 1024;

/** A value too large (or too deep) to forward whole: its first characters, marked, with what identifies the rest. */
export interface TruncatedValue {
  /** Bytes of the whole value's JSON text (UTF-8). */
  readonly originalBytes: number;
  /** SHA-256 (hex) of the whole value's JSON text (UTF-8). */
  readonly sha256: string;
  /** The first {@link TRUNCATED_TEXT_CHARS} characters of that text. */
  readonly text: string;
}

export const truncateValue = (value: unknown, keepChars: number = TRUNCATED_TEXT_CHARS): TruncatedValue => truncateText(serializeJson(value), keepChars);

const truncateText = (text: string, keepChars: number = TRUNCATED_TEXT_CHARS): TruncatedValue => ({
  originalBytes: Buffer.byteLength(text),
  sha256: createHash('sha256').update(text).digest('hex'),
  text: text.slice(0, keepChars),
});
