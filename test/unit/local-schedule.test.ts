import { describe, expect, it } from 'vitest';
import { quietRepeatedSweeps } from '../../local/log-lines.js';
import { LocalSchedule, scheduledEvent } from '../../local/schedule.js';

describe('the sweeper on npm start\'s schedule', () => {
  it('runs on its interval, never two runs at once, and stop waits for the run in flight', async () => {
    // Prepare
    let running = 0;
    let most = 0;
    let runs = 0;
    const schedule = new LocalSchedule(0.02, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
      runs++;
    }, () => undefined);
    // Act
    schedule.start();
    await new Promise((r) => setTimeout(r, 300));
    await schedule.stop();
    const after = runs;
    await new Promise((r) => setTimeout(r, 100));
    // Assess
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(most).toBe(1);
    expect(running).toBe(0);
    expect(runs).toBe(after);
  });

  it('a failed run is reported and the next one still comes', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const schedule = new LocalSchedule(0.01, async () => {
      runs++;
      throw new Error('table gone');
    }, (e) => errors.push(e)).start();
    await new Promise((r) => setTimeout(r, 100));
    await schedule.stop();
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBe(runs);
  });

  it('hands the function the event an EventBridge rate rule sends', () => {
    expect(scheduledEvent('sweeper', 'us-east-1', new Date('2026-12-03T10:00:00Z'))).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-12-03T10:00:00.000Z',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/sweeper'],
    });
  });

  it('prints the offboarded report when it changes, not when only its age or last probe does', () => {
    const lines: string[] = [];
    const log = quietRepeatedSweeps((l) => lines.push(l));
    log('sweeper    offboarded clients (offboarded=1, held=0, longestSeconds=2, wabaId=1)');
    log('sweeper    offboarded clients (offboarded=1, held=0, longestSeconds=7, wabaId=1)');
    log('sweeper    offboarded clients (offboarded=1, held=0, longestSeconds=12, wabaId=1, lastProbe={"verdict":"can-send"})');
    log('sweeper    probe: the number can send (wabaId=1)');
    log('sweeper    offboarded clients (offboarded=1, held=1, longestSeconds=17, wabaId=1)');
    expect(lines).toEqual([
      'sweeper    offboarded clients (offboarded=1, held=0, longestSeconds=2, wabaId=1)',
      'sweeper    probe: the number can send (wabaId=1)',
      'sweeper    offboarded clients (offboarded=1, held=1, longestSeconds=17, wabaId=1)',
    ]);
  });
});
