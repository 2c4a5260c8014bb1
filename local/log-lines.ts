/**
 * The local pipeline's log: the Lambda entry points log structured JSON through Powertools (one object per line, as
 * CloudWatch wants it); locally each of those becomes one readable line in the same column layout as the pipeline's
 * own lines (`consumer   message sent (wabaId=..., messageId=...)`), so no raw JSON is mixed in.
 */

/** Powertools' context keys: the same on every line of a function, noise on a terminal. */
const CONTEXT_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
  'requestId',
]);

const MAX_VALUE_CHARS = 120;

const show = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}...` : text;
};

/** One Powertools JSON line as a readable line, or null when the text is not one. */
const readableLogLine = (text: string): string | null => {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || trimmed.includes('\n')) return null;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof entry.level !== 'string' || typeof entry.message !== 'string') return null;
  const service = typeof entry.service === 'string' ? entry.service : 'relay';
  const fields = Object.entries(entry)
    .filter(([k, v]) => !CONTEXT_KEYS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${show(v)}`);
  const level = entry.level === 'INFO' ? '' : `${entry.level} `;
  return `${service.padEnd(10)} ${level}${entry.message}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`;
};

type Write = typeof process.stdout.write;

/**
 * Sends every Powertools JSON line written to stdout or stderr through `log` as a readable line; anything else is
 * written unchanged. Returns the function that restores the streams.
 */
export const routeJsonLogs = (log: (line: string) => void): (() => void) => {
  const restore: (() => void)[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    const write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : null;
      const lines = text?.split('\n').filter((l) => l.trim() !== '') ?? [];
      const readable = lines.map(readableLogLine);
      if (lines.length > 0 && readable.every((l) => l !== null)) {
        for (const l of readable) log(l as string);
        const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        done?.();
        return true;
      }
      return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    };
    stream.write = write as Write;
    restore.push(() => {
      stream.write = original;
    });
  }
  return () => {
    for (const r of restore) r();
  };
};

/**
 * The sweeper reports the offboarded and held clients on every run: every 5 minutes in AWS, every few seconds here.
 * Locally that report is printed when it changes (counts, longest client), not when only its age or last probe does;
 * every other line passes unchanged.
 */
export const quietRepeatedSweeps = (log: (line: string) => void): ((line: string) => void) => {
  let last: string | undefined;
  return (line) => {
    if (line.startsWith('sweeper    offboarded clients (')) {
      const key = line.replace(/, longestSeconds=\d+/, '').replace(/, lastProbe=.*\)$/, ')');
      if (key === last) return;
      last = key;
    }
    log(line);
  };
};
