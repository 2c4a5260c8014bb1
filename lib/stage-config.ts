import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';

export const STAGES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGES)[number];

/** Everything that differs between environments, modelled in code. `bin/` picks one; constructs never look around. */
export interface StageConfig {
  readonly stage: StageName;
  /** What happens to the table and queues when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  readonly tableDeletionProtection: boolean;
  readonly logRetentionDays: 7 | 14 | 30 | 90 | 180 | 365;
  /**
   * Run functions with `--enable-source-maps` (readable stack traces in logs). Costs ~30-45 ms per cold start on the
   * benchmark machine (`npm run bench`); off, the maps still ship with the code for offline symbolication.
   */
  readonly sourceMapsAtRuntime: boolean;
  readonly queues: {
    /**
     * Retention of the outbound, delay and inbound-events queues; their redrive DLQs and the dead-letter queue keep
     * messages 14 days.
     */
    readonly retention: Duration;
    /** Receives before a message that keeps failing moves to its queue's redrive DLQ. */
    readonly maxReceiveCount: number;
  };
  readonly consumer: {
    readonly timeout: Duration;
    readonly memoryMiB: number;
    /** Event source mapping MaximumConcurrency (2-1000) for each of the outbound and delay queues. */
    readonly maxConcurrency: number;
    readonly batchSize: number;
  };
  readonly webhook: {
    readonly timeout: Duration;
    readonly memoryMiB: number;
    /**
     * Reserved concurrency of the webhook function: its ceiling, and a share of the account's pool that is always its
     * own. A flood of (unsigned) POSTs then runs at most this many webhook instances and cannot take the concurrency
     * the consumer and the other functions need. Lambda keeps at least 100 of the account's quota unreserved, so the
     * account quota must be at least 100 + this; leave it out on accounts with a smaller quota.
     */
    readonly reservedConcurrency?: number;
    /** Days the S3 objects of changes too large for one SQS message (`valueRef`) are kept. */
    readonly inboundObjectExpiryDays: number;
  };
  readonly api: {
    /** Stage-wide throttling (every route). */
    readonly throttleRateLimit: number;
    readonly throttleBurstLimit: number;
    /** Throttling of each public webhook route (GET and POST /webhook), at most the stage's. */
    readonly webhookRateLimit: number;
    readonly webhookBurstLimit: number;
  };
  readonly relay: {
    readonly parkDelaySchedule: string;
    readonly maxParkSeconds: number;
    readonly maxSendAttempts: number;
    /** How long an `automated` envelope waits after the owner answered its customer from the app (0: off). */
    readonly humanReplyHoldSeconds: number;
    readonly graphApiVersion: string;
    readonly graphApiBaseUrl: string;
    readonly reconnectSkewSeconds: number;
    readonly timelineRetentionDays: number;
    /** Most sends per second a release makes from one phone number. */
    readonly releaseRatePerSecond: number;
    /** How long the client counters' stream batches gather (0-300 s): one counter write per client per batch. */
    readonly counterWindowSeconds: number;
  };
  /** Holds and probes (consumer, sweeper and status route). */
  readonly health: {
    /** Least time between two probes of one client; the first backoff step while a hold lasts. */
    readonly probeIntervalSeconds: number;
    /** The probe backoff doubles up to this; also the rate of probes for a long offboarding. */
    readonly probeMaxIntervalSeconds: number;
    /** Percent of Meta's ~5,000 management calls per hour per WABA that probes may use. */
    readonly probeBudgetPercent: number;
    /**
     * A can-send probe ends a webhook-set OFFBOARDED. Relies on undocumented behaviour (what the number's fields show
     * while reonboarding is in progress): off unless you have checked it for your clients.
     */
    readonly probeEndsOffboarding: boolean;
    /** The sweeper probes clients offboarded longer than this. */
    readonly staleOffboardingSeconds: number;
    readonly sweeperProbesPerRun: number;
  };
  /**
   * Secrets Manager secrets by name. A name given here is imported (it must exist); a name left out makes the stack
   * create the secret with a random placeholder value that you then replace (see docs/deploying.md).
   */
  readonly secrets: { readonly appSecretName?: string; readonly verifyTokenName?: string; readonly accessTokenName?: string };
  readonly alarms: {
    /** E-mail address subscribed to the alarm topic; none means subscribe it yourself. */
    readonly email?: string;
    readonly outboundOldestMessageAge: Duration;
    /** A client offboarded longer than this raises ClientOffboardedTooLong. */
    readonly offboardedTooLong: Duration;
    readonly webhook5xxPer5Minutes: number;
    /** How often the sweeper counts offboarded clients. */
    readonly sweepEvery: Duration;
    /** This many clients held at once (sends refused as if offboarded, no webhook yet) raises ClientsHeldPilingUp. */
    readonly heldClients: number;
    readonly signatureFailuresPer5Minutes: number;
  };
}

const base = {
  queues: { retention: Duration.days(4), maxReceiveCount: DEFAULTS.maxReceiveCount },
  consumer: { timeout: Duration.seconds(30), memoryMiB: 512, batchSize: 10 },
  webhook: { timeout: Duration.seconds(10), memoryMiB: 512, inboundObjectExpiryDays: DEFAULTS.inboundObjectExpiryDays },
  relay: {
    parkDelaySchedule: DEFAULTS.parkDelaySchedule,
    releaseRatePerSecond: DEFAULTS.releaseRatePerSecond,
    maxParkSeconds: DEFAULTS.maxParkSeconds,
    maxSendAttempts: DEFAULTS.maxSendAttempts,
    humanReplyHoldSeconds: DEFAULTS.humanReplyHoldSeconds,
    counterWindowSeconds: DEFAULTS.counterWindowSeconds,
    graphApiVersion: DEFAULTS.graphApiVersion,
    graphApiBaseUrl: DEFAULTS.graphApiBaseUrl,
    reconnectSkewSeconds: DEFAULTS.reconnectSkewSeconds,
    timelineRetentionDays: DEFAULTS.timelineRetentionDays,
  },
  health: {
    probeIntervalSeconds: DEFAULTS.probeIntervalSeconds,
    probeMaxIntervalSeconds: DEFAULTS.probeMaxIntervalSeconds,
    probeBudgetPercent: DEFAULTS.probeBudgetPercent,
    probeEndsOffboarding: DEFAULTS.probeEndsOffboarding,
    staleOffboardingSeconds: DEFAULTS.staleOffboardingSeconds,
    sweeperProbesPerRun: DEFAULTS.sweeperProbesPerRun,
  },
  secrets: {},
  sourceMapsAtRuntime: true,
} as const;

export const STAGE_CONFIGS: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    ...base,
    stage: 'dev',
    removalPolicy: RemovalPolicy.DESTROY,
    tableDeletionProtection: false,
    logRetentionDays: 7,
    consumer: { ...base.consumer, maxConcurrency: 2 },
    webhook: { ...base.webhook, reservedConcurrency: 5 },
    api: { throttleRateLimit: 50, throttleBurstLimit: 100, webhookRateLimit: 20, webhookBurstLimit: 40 },
    alarms: {
      outboundOldestMessageAge: Duration.minutes(15),
      offboardedTooLong: Duration.hours(2),
      sweepEvery: Duration.minutes(15),
      heldClients: 10,
      webhook5xxPer5Minutes: 5,
      signatureFailuresPer5Minutes: 20,
    },
  },
  staging: {
    ...base,
    stage: 'staging',
    removalPolicy: RemovalPolicy.DESTROY,
    tableDeletionProtection: false,
    logRetentionDays: 30,
    consumer: { ...base.consumer, maxConcurrency: 5 },
    webhook: { ...base.webhook, reservedConcurrency: 20 },
    api: { throttleRateLimit: 200, throttleBurstLimit: 400, webhookRateLimit: 100, webhookBurstLimit: 200 },
    alarms: {
      outboundOldestMessageAge: Duration.minutes(10),
      offboardedTooLong: Duration.hours(1),
      sweepEvery: Duration.minutes(5),
      heldClients: 5,
      webhook5xxPer5Minutes: 3,
      signatureFailuresPer5Minutes: 10,
    },
  },
  prod: {
    ...base,
    stage: 'prod',
    removalPolicy: RemovalPolicy.RETAIN,
    tableDeletionProtection: true,
    logRetentionDays: 90,
    consumer: { ...base.consumer, maxConcurrency: 20 },
    webhook: { ...base.webhook, reservedConcurrency: 100 },
    api: { throttleRateLimit: 1000, throttleBurstLimit: 2000, webhookRateLimit: 500, webhookBurstLimit: 1000 },
    alarms: {
      outboundOldestMessageAge: Duration.minutes(5),
      offboardedTooLong: Duration.hours(1),
      sweepEvery: Duration.minutes(5),
      heldClients: 5,
      webhook5xxPer5Minutes: 1,
      signatureFailuresPer5Minutes: 10,
    },
  },
};

export class UnknownStageError extends Error {
  override readonly name = 'UnknownStageError';
}

export const stageConfig = (name: string | undefined): StageConfig => {
  const stage = name ?? 'dev';
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new UnknownStageError(`unknown stage "${stage}": use -c stage=${STAGES.join('|')}`);
  }
  return STAGE_CONFIGS[stage as StageName];
};
