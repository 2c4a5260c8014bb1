import { describe, expect, it } from 'vitest';
import { describeSecret, secretTail } from '../../local/secret-display.js';
import { DEV_SECRETS } from '../../local/pipeline.js';

/** The `npm start` banner names where each secret came from and shows at most its last 4 characters. */
describe('describeSecret', () => {
  it.each([
    ['META_APP_SECRET', 'a-real-app-secret-0123456789abcdef', false, 'from META_APP_SECRET, ends "cdef"'],
    ['META_APP_SECRET', 'old-app-secret-0001, new-app-secret-0002', false, 'from META_APP_SECRET, 2 values (rotation): ends "0001", ends "0002"'],
    ['WEBHOOK_VERIFY_TOKEN', 'short', false, 'from WEBHOOK_VERIFY_TOKEN, not shown (short)'],
    ['WHATSAPP_ACCESS_TOKEN', 'EAAG-real-access-token-XYZ9', false, 'from WHATSAPP_ACCESS_TOKEN, ends "XYZ9"'],
    [
      'WHATSAPP_ACCESS_TOKEN',
      '{"default":"EAAG-default-token-D3F4","byWaba":{"1":"EAAG-client-one-0001","2":"EAAG-client-two-0002"}}',
      false,
      'from WHATSAPP_ACCESS_TOKEN, a token map: default ends "D3F4", 2 per-WABA token(s)',
    ],
    ['META_APP_SECRET', DEV_SECRETS.META_APP_SECRET, true, 'development default, ends "cret" (set META_APP_SECRET to change)'],
  ])('%s %s', (name, value, fromDefault, expected) => {
    expect(describeSecret(name, value, fromDefault)).toBe(expected);
  });

  it('never contains more than the last 4 characters of any value', () => {
    const values = ['a-real-app-secret-0123456789abcdef', 'EAAG-real-access-token-XYZ9', 'old-app-secret-0001', 'EAAG-client-one-0001'];
    for (const v of values) {
      const shown = describeSecret('META_APP_SECRET', v, false);
      expect(shown).not.toContain(v.slice(-5));
    }
    expect(describeSecret('WHATSAPP_ACCESS_TOKEN', '{"default":"EAAG-default-token-D3F4","byWaba":{"1":"EAAG-client-one-0001"}}', false)).not.toMatch(/client-one|0001/);
  });

  it('secretTail shows nothing of a value under 12 characters', () => {
    expect(secretTail('12345678901')).toBe('not shown (short)');
    expect(secretTail('123456789012')).toBe('ends "9012"');
  });
});
