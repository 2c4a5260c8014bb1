/**
 * Release pacing: how far apart two sends from one phone number are spaced while a release drains.
 *
 * Coexistence numbers have a fixed 20 messages per second, shared with inbound traffic and the business app. A release
 * never sends more than `RELEASE_RATE_PER_SECOND` per phone number in any one-second window, across every instance:
 * each send reserves the next free slot of its phone number in DynamoDB (one conditional write), and slots are
 * {@link paceIntervalMs} apart. The interval carries a margin so a call that leaves a few milliseconds after its slot
 * (timer lateness, a slower request) still cannot put one call too many into a one-second window measured where the
 * calls arrive.
 */

/** Lateness a call may have after its slot without breaking the one-second rule where it arrives. */
export const PACE_MARGIN_MS = 50;

/**
 * Milliseconds between two slots of one phone number: `rate` calls span `(rate - 1) * interval` ms, and any two calls
 * `rate` slots apart are at least `1000 + margin` ms apart, so a one-second window holds at most `rate` calls even
 * when each call is up to `margin` ms late.
 */
export const paceIntervalMs = (ratePerSecond: number, marginMs: number = PACE_MARGIN_MS): number => {
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new RangeError(`rate must be positive, got ${ratePerSecond}`);
  return Math.ceil((1000 + marginMs) / ratePerSecond);
};

/**
 * The slot a reservation gets and what the phone number's next free slot becomes: the stored next slot when it lies
 * ahead, otherwise now. Pure; the DynamoDB pacer applies it with a condition so concurrent reservations never share
 * a slot.
 */
export const reserveSlot = (storedNextMs: number | undefined, nowMs: number, intervalMs: number): { slotMs: number; nextMs: number } => {
  const slotMs = storedNextMs !== undefined && storedNextMs > nowMs ? storedNextMs : nowMs;
  return { slotMs, nextMs: slotMs + intervalMs };
};

/** The most events inside any half-open window `[t, t + windowMs)`: what the pace budget is checked against. */
export const maxPerWindow = (timesMs: readonly number[], windowMs = 1000): number => {
  const t = [...timesMs].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < t.length; end++) {
    while ((t[end] as number) - (t[start] as number) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
};

/**
 * The last line of the pace inside one process: call starts per key (phone number) in a sliding log of one second plus
 * {@link PACE_MARGIN_MS}. A call may start only while fewer than `rate` calls started in that window, so however late a
 * slot's call leaves (a busy event loop), any two calls `rate` apart start at least `1000 + margin` ms apart, as on-time
 * slots do: a call that left late and the network's jitter together cannot put one call too many into a second
 * measured where the calls arrive. On-time calls are never delayed by it. Across processes the DynamoDB slots
 * ({@link paceIntervalMs} apart) keep the sum under the rate.
 */
export class CallWindow {
  readonly #starts = new Map<string, number[]>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    private readonly windowMs: number = 1000 + PACE_MARGIN_MS,
  ) {}

  /** Resolves when a call for `key` may start now, and counts it as started. */
  async admit(key: string): Promise<void> {
    for (;;) {
      const t = this.now();
      const recent = (this.#starts.get(key) ?? []).filter((s) => t - s < this.windowMs);
      if (recent.length < this.ratePerSecond) {
        recent.push(t);
        this.#starts.set(key, recent);
        return;
      }
      this.#starts.set(key, recent);
      await this.sleep(this.windowMs - (t - (recent[0] as number)));
    }
  }
}
