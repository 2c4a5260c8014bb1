/** Counters and structured logs, without tying the domain to a library. */
/** Counters and structured logs, without tying the domain to a library. */
export interface Telemetry {
  count(metric: string, value?: number, dimensions?: Readonly<Record<string, string>>): void;
  /** A duration in seconds (alarms use its maximum). */
  seconds(metric: string, value: number): void;
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentTelemetry: Telemetry = {
  count: () => undefined,
  seconds: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
