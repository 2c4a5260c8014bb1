import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inboundMessages, largeValueKey, META_MAX_CHANGE_BYTES } from '../../lambdas/core/webhook/inbound-message.js';
import type { InboundEvent, LargeValueStore } from '../../lambdas/core/webhook/ports.js';

/** Which inbound changes go inline, by reference or truncated (core/webhook/inbound-message.ts), with a recording store. */
class RecordingStore implements LargeValueStore {
  readonly puts: { key: string; body: Buffer; sha256: string }[] = [];
  async put(key: string, body: Buffer, sha256: string) {
    this.puts.push({ key, body, sha256 });
    return { bucket: 'the-bucket' };
  }
}

const event = (value: unknown, over: Partial<InboundEvent> = {}): InboundEvent => ({ dedupeId: 'ab'.repeat(16), wabaId: '1029384756', field: 'history', entryTime: null, value, receivedAt: '2026-01-01T00:00:00.000Z', ...over });

describe('inbound messages', () => {
  it('forwards a small change inline, stores nothing', async () => {
    const store = new RecordingStore();
    const [m] = await inboundMessages([event({ a: 'é' })], store);
    expect(JSON.parse(m?.body ?? '')).toMatchObject({ value: { a: 'é' } });
    expect(m?.attributes).toEqual({ field: 'history', wabaId: '1029384756', dedupeId: 'ab'.repeat(16) });
    expect(store.puts).toEqual([]);
  });

  it('stores a change over 900 KiB whole (UTF-8 JSON, sha256 of those bytes) and points at it', async () => {
    const store = new RecordingStore();
    const value = { text: 'ü🙂'.repeat(200_000) };
    const [m] = await inboundMessages([event(value)], store);
    const [put] = store.puts;
    expect(put?.key).toBe(largeValueKey({ wabaId: '1029384756', dedupeId: 'ab'.repeat(16) }));
    expect(put?.key).toBe(`inbound/1029384756/${'ab'.repeat(16)}.json`);
    expect(put?.body.toString('utf8')).toBe(JSON.stringify(value));
    expect(put?.sha256).toBe(createHash('sha256').update(put?.body ?? '').digest('hex'));
    const body = JSON.parse(m?.body ?? '');
    expect(body.value).toBeUndefined();
    expect(body.valueRef).toEqual({ bucket: 'the-bucket', key: put?.key, bytes: put?.body.length, sha256: put?.sha256 });
    expect(m?.attributes.valueRef).toBe('true');
    expect(/^[\x20-\x7e]*$/.test(m?.body ?? '')).toBe(true);
  });

  it('forwards truncated what it may not store: over Meta\'s 3 MB, too deep, or without a store', async () => {
    const store = new RecordingStore();
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const [over, tooDeep, noStore] = [
      ...(await inboundMessages([event({ t: 'x'.repeat(META_MAX_CHANGE_BYTES) }), event(deep)], store)),
      ...(await inboundMessages([event({ t: 'x'.repeat(1_000_000) })], undefined)),
    ].map((m) => JSON.parse(m.body));
    expect(over.problem).toMatch(/^too-large: a "history" change of 3000008 bytes, over Meta's 3000000-byte limit/);
    expect(tooDeep.problem).toMatch(/^too-deep: /);
    expect(noStore.problem).toMatch(/^too-large: a "history" change of 1000008 bytes, forwarded truncated$/);
    for (const m of [over, tooDeep, noStore]) expect(m).toMatchObject({ field: 'unreadable', truncated: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(store.puts).toEqual([]);
  });

  it('stores nothing more and returns nothing when a store fails: the caller queues nothing', async () => {
    const failing: LargeValueStore = { put: () => Promise.reject(new Error('S3 down')) };
    await expect(inboundMessages([event({ small: true }), event({ t: 'x'.repeat(1_000_000) })], failing)).rejects.toThrow('S3 down');
  });
});
