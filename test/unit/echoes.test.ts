import { describe, expect, it } from 'vitest';
import { readEchoes } from '../../lambdas/core/webhook/echoes.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const T = Math.floor(NOW / 1000) - 30;

/** Echo shapes from Meta's coexistence and username documentation. */
const change = (echoes: unknown[]) => ({ messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001234', phone_number_id: '555001' }, message_echoes: echoes });

describe('smb_message_echoes: the owner answering from the app', () => {
  it('reads the customer (phone number, else BSUID) and the time of each echo', () => {
    const out = readEchoes(
      'waba-1',
      change([
        { from: '15550001234', to: '15551230000', id: 'wamid.a', timestamp: String(T), type: 'text', text: { body: 'hi' } },
        { from: '15550001234', to_user_id: 'US.13491208655302741918', id: 'wamid.b', timestamp: T + 1, type: 'text' },
        { from: '15550001234', to: '15551230000', to_user_id: 'US.1', id: 'wamid.c', timestamp: String(T + 2), type: 'image' },
      ]),
      NOW,
      300_000,
    );
    expect(out).toEqual([
      { wabaId: 'waba-1', phoneNumberId: '555001', customer: '15551230000', atMs: T * 1000 },
      { wabaId: 'waba-1', phoneNumberId: '555001', customer: 'US.13491208655302741918', atMs: (T + 1) * 1000 },
      { wabaId: 'waba-1', phoneNumberId: '555001', customer: '15551230000', atMs: (T + 2) * 1000 },
    ]);
  });

  it('skips echoes without a customer or a usable time, and a change without its phone number id', () => {
    expect(readEchoes('w', change([{ id: 'x', timestamp: String(T) }, { to: '1', timestamp: 'soon' }, { to: '1', timestamp: String(T + 10_000) }]), NOW, 300_000)).toEqual([]);
    expect(readEchoes('w', { message_echoes: [{ to: '1', timestamp: String(T) }] }, NOW, 300_000)).toEqual([]);
    expect(readEchoes('w', 'not an object', NOW, 300_000)).toEqual([]);
  });
});
