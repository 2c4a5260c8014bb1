import { createHmac } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { HmacSha256, MissingSecretError, SignatureVerifier, signBody } from '../../lambdas/core/webhook/signature.js';
import { propertyRuns } from '../support/property.js';

const SECRET = 'app-secret-1';
const body = Buffer.from('{"object":"whatsapp_business_account","entry":[]}');

describe('SignatureVerifier', () => {
  const verifier = new SignatureVerifier([SECRET]);

  it('accepts the signature Meta computes over the raw bytes', () => {
    const header = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(verifier.verify(body, header)).toEqual({ valid: true, secretIndex: 0 });
  });

  it.each([
    ['missing header', undefined, 'missing'],
    ['empty header', '', 'missing'],
    ['no sha256= prefix', createHmac('sha256', SECRET).update(body).digest('hex'), 'malformed'],
    ['sha1 prefix', `sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}`, 'malformed'],
    ['too short', signBody(body, SECRET).slice(0, -2), 'malformed'],
    ['too long', `${signBody(body, SECRET)}00`, 'malformed'],
    ['non-hex', `sha256=${'z'.repeat(64)}`, 'malformed'],
    ['wrong secret', signBody(body, 'another-secret'), 'mismatch'],
  ])('rejects %s', (_name, header, problem) => {
    expect(verifier.verify(body, header)).toEqual({ valid: false, problem });
  });

  it('rejects a body with one flipped byte', () => {
    const header = signBody(body, SECRET);
    const tampered = Buffer.from(body);
    tampered[10] = (tampered[10] ?? 0) ^ 0x01;
    expect(verifier.verify(tampered, header).valid).toBe(false);
  });

  it('accepts an upper-case hex digest and prefix (header values are not case sensitive)', () => {
    const header = signBody(body, SECRET).toUpperCase();
    expect(verifier.verify(body, header).valid).toBe(true);
  });

  it('verifies non-ASCII bodies over the bytes received, not over re-serialised JSON', () => {
    // Meta signs the escaped-unicode form; the same JSON value serialised with raw UTF-8 is different bytes.
    const escaped = Buffer.from('{"text":"\\u00e9t\\u00e9 \\ud83d\\ude00"}');
    const header = signBody(escaped, SECRET);
    expect(verifier.verify(escaped, header).valid).toBe(true);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(escaped.toString())));
    expect(reserialised.equals(escaped)).toBe(false);
    expect(verifier.verify(reserialised, header).valid).toBe(false);
  });

  it('accepts any of several secrets during rotation and says which matched', () => {
    const rotating = new SignatureVerifier(['old-secret', 'new-secret']);
    expect(rotating.verify(body, signBody(body, 'old-secret'))).toEqual({ valid: true, secretIndex: 0 });
    expect(rotating.verify(body, signBody(body, 'new-secret'))).toEqual({ valid: true, secretIndex: 1 });
    expect(rotating.verify(body, signBody(body, 'third')).valid).toBe(false);
  });

  it.each([[[]], [['']], [['  ', '']]])('refuses to exist without a secret (%j)', (secrets) => {
    expect(() => new SignatureVerifier(secrets)).toThrow(MissingSecretError);
  });
});

describe('SignatureVerifier: bodies of every size, as text or bytes', () => {
  it('accepts what signBody signed and refuses one changed byte, from empty to 200k characters', () => {
    const verifier = new SignatureVerifier(['other', 'secret']);
    // Text with 1-, 2-, 3- and 4-byte characters, as text and as its bytes.
    for (const units of [200_000, 65_600, 65_536, 21_846, 21_845, 1_000, 1, 0]) {
      const text = 'a\u00e9\u20ac\ud83d\ude00'.repeat(Math.ceil(units / 5)).slice(0, units);
      const bytes = Buffer.from(text, 'utf8');
      const header = signBody(bytes, 'secret');
      expect(verifier.verify(text, header)).toEqual({ valid: true, secretIndex: 1 });
      expect(verifier.verify(bytes, header)).toEqual({ valid: true, secretIndex: 1 });
      if (bytes.length > 0) {
        const changed = Buffer.from(bytes);
        changed[changed.length - 1] = (changed[changed.length - 1] as number) ^ 1;
        expect(verifier.verify(changed, header)).toEqual({ valid: false, problem: 'mismatch' });
      }
    }
  });
});

describe('HmacSha256', () => {
  test.prop([fc.uint8Array({ maxLength: 200, size: 'max' }), fc.uint8Array({ maxLength: 3000, size: 'max' })], { numRuns: propertyRuns(500) })(
    'gives createHmac\'s bytes for any key (longer than a block too) and any data',
    (key, data) => {
      expect(new HmacSha256(key).digest(data).equals(createHmac('sha256', key).update(data).digest())).toBe(true);
    },
  );

  it('agrees at the block size: keys of 63, 64 and 65 bytes, data of 0 and 64 bytes', () => {
    for (const keyBytes of [1, 63, 64, 65, 300]) {
      for (const dataBytes of [0, 64]) {
        const key = Buffer.alloc(keyBytes, 7);
        const data = Buffer.alloc(dataBytes, 9);
        expect(new HmacSha256(key).digest(data)).toEqual(createHmac('sha256', key).update(data).digest());
      }
    }
  });
});
