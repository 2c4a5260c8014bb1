import { describe, expect, it } from 'vitest';
import { CLAIMABLE_STATES, FINAL_STATES, isFinal, LEDGER_STATES, LEDGER_TRANSITIONS, SETTLED_STATE } from '../../lambdas/core/outbound/send-ledger.js';

describe('the message lifecycle', () => {
  it('has no way out of a final state but a redrive of a dead letter (back to RELEASED)', () => {
    expect(LEDGER_TRANSITIONS.SENT).toEqual([]);
    expect(LEDGER_TRANSITIONS.REPLACED_BY_FALLBACK).toEqual([]);
    expect(LEDGER_TRANSITIONS.DEAD_LETTERED).toEqual(['RELEASED']);
    for (const s of FINAL_STATES) expect(CLAIMABLE_STATES as readonly string[]).not.toContain(s);
  });

  it('reaches every final state only from a claim (SENDING), by the operation that settles it', () => {
    for (const s of LEDGER_STATES) {
      const from = (Object.keys(LEDGER_TRANSITIONS) as (keyof typeof LEDGER_TRANSITIONS)[]).filter((f) => LEDGER_TRANSITIONS[f].includes(s));
      if (isFinal(s)) expect(from).toEqual(['SENDING']);
    }
    expect(Object.values(SETTLED_STATE).filter(isFinal).sort()).toEqual([...FINAL_STATES].sort());
  });
});
