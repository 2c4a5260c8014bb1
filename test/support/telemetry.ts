import type { Telemetry } from '../../lambdas/core/shared/telemetry.js';

/** Telemetry that remembers what it was told, so tests can assert on counters and on what was logged. */
export class RecordingTelemetry implements Telemetry {
  readonly counts = new Map<string, number>();
  readonly logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  count(metric: string, value = 1, dimensions?: Readonly<Record<string, string>>): void {
    const key = dimensions ? `${metric}${JSON.stringify(dimensions)}` : metric;
    this.counts.set(key, (this.counts.get(key) ?? 0) + value);
  }
  readonly durations: { metric: string; value: number }[] = [];
  seconds(metric: string, value: number): void {
    this.durations.push({ metric, value });
  }
  info(message: string, fields: Record<string, unknown> = {}) {
    this.logs.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: Record<string, unknown> = {}) {
    this.logs.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: Record<string, unknown> = {}) {
    this.logs.push({ level: 'error', message, fields });
  }
  get(metric: string): number {
    return this.counts.get(metric) ?? 0;
  }
}
