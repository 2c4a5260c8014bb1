import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { isSqsSafe, toSqsJson } from '../../lambdas/core/shared/sqs-body.js';

describe('toSqsJson', () => {
  test.prop([fc.jsonValue()])('any JSON value round-trips through an ASCII body', (value) => {
    const body = toSqsJson(value);
    expect(isSqsSafe(body)).toBe(true);
    expect(JSON.parse(body)).toStrictEqual(JSON.parse(JSON.stringify(value)));
  });

  test.prop([fc.string({ unit: 'binary' })])('strings with emoji, U+FFFF, NUL and lone surrogates come back unchanged', (s) => {
    const body = toSqsJson({ s });
    expect(isSqsSafe(body)).toBe(true);
    expect((JSON.parse(body) as { s: string }).s).toBe(s);
  });

  test('escapes the characters SQS refuses', () => {
    const body = toSqsJson({ text: 'a\uffff\u0000😀\ud800' });
    expect(body).toBe('{"text":"a\\uffff\\u0000\\ud83d\\ude00\\ud800"}');
  });

  test('refuses values without a JSON form', () => {
    expect(() => toSqsJson(undefined)).toThrow(TypeError);
  });
});
