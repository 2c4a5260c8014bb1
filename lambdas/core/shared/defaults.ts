/**
 * Every default of the relay, in one place. The Lambda configuration schemas (`lambdas/<function>/config.ts`), the
 * CDK stage config (`lib/stage-config.ts`), the local pipeline and the docs all take their values from here.
 */
export const DEFAULTS = {
  /** An ACCOUNT_OFFBOARDED and an ACCOUNT_RECONNECTED within this many seconds count as offboarded, then reconnected. */
  reconnectSkewSeconds: 300,
  /**
   * An event time more than this many seconds after the relay received the webhook does not decide status (it is
   * recorded and forwarded as unreadable): Meta's clock and ours differ by seconds, never by minutes.
   */
  maxEventFutureSkewSeconds: 300,
  /** How long client timeline entries are kept (DynamoDB TTL). */
  timelineRetentionDays: 30,
  /** How long a sent message id is remembered; longer than any SQS retention. */
  sendLedgerRetentionDays: 15,
  /**
   * Park delays in seconds; the last value repeats. A release sends parked messages the moment their client is back,
   * so the delay loop is only the safety net: SQS's longest delay, 4 checks an hour (see docs/outbound.md, parking).
   */
  parkDelaySchedule: '900',
  /** Longest a message may wait parked before it is dead-lettered `expired`. */
  maxParkSeconds: 86_400,
  /**
   * How long an envelope marked `automated` waits after the business owner wrote to its customer from the WhatsApp
   * Business app (an `smb_message_echoes` change): 30 minutes, long enough to cover a person's back-and-forth with a
   * customer, short enough that automation resumes the same day and well inside the 24-hour window. 0 turns it off.
   */
  humanReplyHoldSeconds: 1_800,
  /**
   * How long the tally function's event source gathers message changes before one call (0-300 s): each call writes each
   * client's counters once, so a longer window is fewer writes and later counters.
   */
  counterWindowSeconds: 30,
  /**
   * How long the S3 objects of changes too large for one SQS message (`valueRef`) are kept: as long as SQS keeps a
   * message at most (14 days), so an object outlives every message that points at it.
   */
  inboundObjectExpiryDays: 14,
  /** Retryable Cloud API failures before a message is dead-lettered. */
  maxSendAttempts: 8,
  graphApiBaseUrl: 'https://graph.facebook.com',
  graphApiVersion: 'v25.0',
  graphApiTimeoutMs: 10_000,
  /** Receives before SQS moves a message to its queue's redrive DLQ (the stack and the local pipeline). */
  maxReceiveCount: 5,
  /** Most sends per second a release makes from one phone number (coexistence numbers have 20 in all). */
  releaseRatePerSecond: 15,
  /** The releaser's time limit in AWS; a run stops 10 s before it and queues its continuation. */
  releaserTimeoutSeconds: 60,
  /** Least time between two probes of one client's number, and the first backoff step while a hold lasts. */
  probeIntervalSeconds: 60,
  /** The probe backoff doubles up to this; also the rate of probes for a long offboarding. */
  probeMaxIntervalSeconds: 900,
  /** Percent of Meta's management-call budget (about 5,000 calls per hour per WABA) probes may use. */
  probeBudgetPercent: 2,
  managementCallsPerHour: 5000,
  /** The sweeper probes clients offboarded longer than this. */
  staleOffboardingSeconds: 1800,
  /** Probes the sweeper makes at most per run. */
  sweeperProbesPerRun: 25,
  /** A can-send probe ends a webhook-set OFFBOARDED (relies on undocumented behaviour; off by default). */
  probeEndsOffboarding: false,
} as const;
