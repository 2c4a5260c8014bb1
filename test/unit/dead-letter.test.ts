import { createHash } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  attributeBytes,
  DEAD_LETTER_EXCERPT_CHARS,
  DEAD_LETTER_MAX_BYTES,
  type DeadLetterBody,
  deadLetterMessage,
} from '../../lambdas/core/outbound/dead-letter.js';
import { MAX_ENVELOPE_BYTES, type OutboundEnvelope, parseEnvelope } from '../../lambdas/core/outbound/envelope.js';
import { DEAD_LETTER_REASONS, FRESH } from '../../lambdas/core/outbound/outbound-decision.js';
import { isSqsSafe, SQS_MAX_MESSAGE_BYTES } from '../../lambdas/core/shared/sqs-body.js';
import { propertyRuns } from '../support/property.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const fits = (m: { body: string; attributes: Readonly<Record<string, string>> }) =>
  Buffer.byteLength(m.body) + attributeBytes(m.attributes) <= SQS_MAX_MESSAGE_BYTES;

/** Strings built to be as large as possible once escaped: characters that become 6 bytes, and quotes. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.integer({ min: 0, max: 2 * MAX_ENVELOPE_BYTES }).map((n) => '\u007f'.repeat(n)),
  fc.integer({ min: 0, max: 2 * MAX_ENVELOPE_BYTES }).map((n) => '\\"'.repeat(Math.ceil(n / 2))),
  fc.integer({ min: 0, max: 400_000 }).map((n) => '\uffff😀'.repeat(Math.ceil(n / 3))),
);

const envelopeOf = (text: string): OutboundEnvelope => ({
  messageId: 'm-1',
  wabaId: 'w1',
  phoneNumberId: 'p1',
  payload: { messaging_product: 'whatsapp', to: '1', text: { body: text } },
  metadata: { text },
});

describe('deadLetterMessage', () => {
  test.prop([fc.constantFrom(...DEAD_LETTER_REASONS), hostile, hostile, fc.boolean()], { numRuns: propertyRuns(60) })(
    'every body is ASCII and fits one SQS message with its attributes, whatever the record held',
    (reason, raw, detail, parsed) => {
      const envelope = parsed ? envelopeOf(raw) : null;
      const rawBody = envelope ? JSON.stringify(envelope) : raw;
      const m = deadLetterMessage({
        reason,
        detail,
        nowMs: NOW,
        envelope,
        rawBody,
        state: FRESH,
        cloudApiError: { code: 131026, message: detail, fbtraceId: detail, httpStatus: 400 },
      });
      expect(isSqsSafe(m.body)).toBe(true);
      expect(m.body.length).toBeLessThanOrEqual(DEAD_LETTER_MAX_BYTES);
      expect(fits(m)).toBe(true);
      const back = JSON.parse(m.body) as DeadLetterBody;
      expect(back.reason).toBe(reason);
      expect(m.attributes.reason).toBe(reason);
      if (Buffer.byteLength(rawBody) <= MAX_ENVELOPE_BYTES) {
        // Under the cap the envelope comes back whole, every character as it was.
        expect(back.truncated).toBeUndefined();
        expect(back.envelope).toStrictEqual(envelope ?? raw);
      } else {
        expect(back.truncated).toEqual({
          originalBytes: Buffer.byteLength(rawBody),
          sha256: createHash('sha256').update(rawBody, 'utf8').digest('hex'),
        });
        expect(typeof back.envelope).toBe('string');
        expect(rawBody.startsWith(back.envelope as string)).toBe(true);
        expect((back.envelope as string).length).toBeGreaterThan(DEAD_LETTER_EXCERPT_CHARS - 2);
      }
    },
  );

  test('an invalid body of escaped quotes at the cap is kept whole (escaping doubles it, still under 1 MiB)', () => {
    const raw = '\\"'.repeat(MAX_ENVELOPE_BYTES / 2);
    const problem = parseEnvelope(raw);
    expect(problem.ok).toBe(false);
    const m = deadLetterMessage({ reason: 'invalid-envelope', detail: 'body is not JSON', nowMs: NOW, envelope: null, rawBody: raw, state: FRESH });
    expect(fits(m)).toBe(true);
    expect((JSON.parse(m.body) as DeadLetterBody).envelope).toBe(raw);
  });

  test('a ~1 MiB body is cut to an excerpt with its length and SHA-256', () => {
    const raw = `{"messageId":"${'x'.repeat(SQS_MAX_MESSAGE_BYTES - 100)}"}`;
    const problem = parseEnvelope(raw);
    expect(problem).toEqual({ ok: false, problem: `body is ${raw.length} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit` });
    const m = deadLetterMessage({ reason: 'invalid-envelope', detail: problem.ok ? '' : problem.problem, nowMs: NOW, envelope: null, rawBody: raw, state: FRESH });
    const back = JSON.parse(m.body) as DeadLetterBody;
    expect(back.envelope).toBe(raw.slice(0, DEAD_LETTER_EXCERPT_CHARS));
    expect(back.truncated?.originalBytes).toBe(raw.length);
    expect(m.attributes).toEqual({ reason: 'invalid-envelope' });
  });

  test('U+FFFF, NUL and lone surrogates in a parsed envelope come back unchanged through an ASCII body', () => {
    const envelope = envelopeOf('a\uffff\u0000\ud800😀');
    const m = deadLetterMessage({ reason: 'no-access-token', detail: 'no token', nowMs: NOW, envelope, rawBody: JSON.stringify(envelope), state: FRESH });
    expect(isSqsSafe(m.body)).toBe(true);
    expect((JSON.parse(m.body) as DeadLetterBody).envelope).toStrictEqual(envelope);
    expect(m.attributes).toEqual({ reason: 'no-access-token', wabaId: 'w1' });
  });

  test('never cuts a surrogate pair in half', () => {
    const raw = `${'a'.repeat(DEAD_LETTER_EXCERPT_CHARS - 1)}😀${'b'.repeat(MAX_ENVELOPE_BYTES)}`;
    const m = deadLetterMessage({ reason: 'invalid-envelope', detail: 'too big', nowMs: NOW, envelope: null, rawBody: raw, state: FRESH });
    expect((JSON.parse(m.body) as DeadLetterBody).envelope).toBe('a'.repeat(DEAD_LETTER_EXCERPT_CHARS - 1));
  });
});
