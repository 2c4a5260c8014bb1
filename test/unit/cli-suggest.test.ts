import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from '../../local/cli/suggest.js';

describe('editDistance', () => {
  it.each([
    ['status', 'status', 0],
    ['stauts', 'status', 1], // two neighbours swapped
    ['statsu', 'status', 1],
    ['stats', 'status', 1],
    ['sttus', 'status', 1],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3], // optimal string alignment: no edit of a swapped pair
  ])('%s -> %s: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closest', () => {
  const commands = ['status', 'parked', 'send', 'message', 'dead-letters', 'client', 'reset', 'events', 'inbound', 'webhook', 'webhook-file', 'cloud-api'];
  it.each([
    ['stauts', 'status'],
    ['STATUS', undefined], // the same word is not a suggestion
    ['Stauts', 'status'],
    ['sned', 'send'],
    ['dead-leters', 'dead-letters'],
    ['webhok', 'webhook'],
    ['frobnicate', undefined],
    ['set', undefined], // short words: one edit at most (`send` and `reset` are two)
    ['even', undefined], // 2 edits from events, over the limit of a 4-character word
  ])('%s -> %s', (word, expected) => {
    expect(closest(word, commands)).toBe(expected);
  });

  it('two equally close choices suggest neither', () => {
    expect(closest('cat', ['bat', 'hat'])).toBeUndefined();
    expect(closest('cat', ['bat', 'hate'])).toBe('bat');
  });

  it('didYouMean renders the choice, or nothing', () => {
    expect(didYouMean('jsno', ['json', 'max'], (c) => `--${c}`)).toBe(' (did you mean --json?)');
    expect(didYouMean('stauts', ['status'])).toBe(' (did you mean "status"?)');
    expect(didYouMean('zzz', ['status'])).toBe('');
  });
});
