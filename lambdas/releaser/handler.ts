import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Telemetry } from '../core/shared/telemetry.js';
import { parseReleaseRequest, type ReleaseService } from '../core/release/release.js';

/** Time kept back from the function's limit: the run stops this early and queues its continuation. */
const RELEASE_DEADLINE_MARGIN_MS = 10_000;

/**
 * The release queue's consumer: one release run per request, side by side. A request that cannot be read, or a run
 * that fails, is reported as a batch item failure: it comes back, and after 5 receives lands in the queue's redrive
 * DLQ (alarm `ReleaseFailed`).
 */
export const createReleaserHandler =
  (service: () => Promise<ReleaseService>, telemetry: Telemetry, now: () => number = Date.now) =>
  async (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
    const deadlineMs = context ? now() + context.getRemainingTimeInMillis() - RELEASE_DEADLINE_MARGIN_MS : Number.POSITIVE_INFINITY;
    const releases = await service();
    const failed: string[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        const parsed = parseReleaseRequest(record.body);
        if (!parsed.ok) {
          telemetry.error('release request unreadable', { sqsMessageId: record.messageId, problem: parsed.problem });
          telemetry.count('ReleaseRequestsInvalid');
          failed.push(record.messageId);
          return;
        }
        try {
          const result = await releases.run(parsed.request, deadlineMs);
          telemetry.info('release run ended', { wabaId: parsed.request.wabaId, outcome: result.outcome, sent: result.progress?.sent });
        } catch (error) {
          telemetry.error('release run failed; request retried', { wabaId: parsed.request.wabaId, error: String(error) });
          failed.push(record.messageId);
        }
      }),
    );
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
