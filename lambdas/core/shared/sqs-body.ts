/**
 * Bodies every SQS accepts. SQS allows only #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF, and the
 * local emulator refuses everything above U+FFFF as well. JSON with every character outside printable ASCII written as
 * a `\uXXXX` escape is plain ASCII, so any value survives any SQS, and `JSON.parse` gives the original characters back
 * (lone surrogates included: `JSON.stringify` already escapes those).
 */
const NON_ASCII = /[\u007f-\uffff]/g;

const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `JSON.stringify`, then every character outside printable ASCII escaped. Throws what `JSON.stringify` throws. */
export const toSqsJson = (value: unknown): string => {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('value has no JSON form');
  return json.replace(NON_ASCII, unicodeEscape);
};

/** SQS's largest message: 1 MiB, counting the body and the message attributes. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** True when SQS (and the local emulator) accept `body` as it is. */
export const isSqsSafe = (body: string): boolean => /^[\t\n\r\u0020-\u007e]*$/.test(body);
