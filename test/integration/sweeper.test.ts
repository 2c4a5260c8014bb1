import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoOffboardedIndex } from '../../lambdas/adapters/dynamo/client-store.js';
import { SqsInboundEventSink } from '../../lambdas/adapters/sqs.js';
import { signBody } from '../../lambdas/core/webhook/signature.js';
import { createSweeperHandler } from '../../lambdas/sweeper/handler.js';
import { createWebhookHandler } from '../../lambdas/webhook/handler.js';
import { httpEvent, localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';
import { RecordingReleases } from '../support/release.js';
import { offboarded, partnerEvent, reconnected } from '../support/webhooks.js';

let env: Awaited<ReturnType<typeof localResources>>;
let webhook: ReturnType<typeof createWebhookHandler>;
const T = 1768477204;
const POLICY = { reconnectSkewMs: 300_000, probeEndsOffboarding: false, staleOffboardingSeconds: 1800, maxProbesPerRun: 25 };

beforeAll(async () => {
  env = await localResources(['inbound']);
  webhook = createWebhookHandler({
    store: env.store,
    inbound: new SqsInboundEventSink(env.sqs, env.queues.inbound as string),
    releases: new RecordingReleases(),
    telemetry: new RecordingTelemetry(),
    secrets: async () => ({ appSecrets: ['s'], verifyToken: 't' }),
    reconnectSkewMs: 300_000,
    timelineRetentionDays: 1,
  });
});

const post = async (payload: unknown) => {
  const body = JSON.stringify(payload);
  const r = await webhook(httpEvent({ method: 'POST', path: '/webhook', body, headers: { 'x-hub-signature-256': signBody(body, 's') } }));
  expect(r.statusCode).toBe(200);
};

describe('offboarded sweep over DynamoDB Local', () => {
  it('counts clients offboarded now and the longest offboarding, and unlists those that came back', async () => {
    await post(offboarded('sweep-a', T));
    await post(offboarded('sweep-b', T));
    await post(offboarded('sweep-c', T));
    await post(reconnected('sweep-b', T + 60));
    await post(partnerEvent('p', 'sweep-c', 'PARTNER_REMOVED', T + 120));
    const telemetry = new RecordingTelemetry();
    const index = new DynamoOffboardedIndex(env.doc, env.tableName);
    const later = Date.now() + 3_600_000;
    const result = await createSweeperHandler(index, telemetry, POLICY, () => later)();
    expect(result).toMatchObject({ offboarded: 1, unlisted: 2 });
    expect(result.longestSeconds).toBeGreaterThanOrEqual(3599);
    expect(telemetry.get('ClientsOffboarded')).toBe(1);
    expect(telemetry.durations).toEqual([{ metric: 'ClientOffboardedSeconds', value: result.longestSeconds }]);
    // Reconnected and removed clients left the index; the offboarded one stays.
    expect((await index.list()).map((l) => l.wabaId)).toEqual(['sweep-a']);
  });

  it('keeps a client listed when it was offboarded again after the sweep read it', async () => {
    await post(offboarded('sweep-d', T));
    await post(reconnected('sweep-d', T + 30));
    const index = new DynamoOffboardedIndex(env.doc, env.tableName);
    const seen = (await index.list()).find((l) => l.wabaId === 'sweep-d');
    expect(seen).toBeDefined();
    await post(offboarded('sweep-d', T + 10_000)); // a new offboarding, well after the reconnection
    await index.unlist('sweep-d', seen?.listingKey as string);
    const item = await env.doc.send(new GetCommand({ TableName: env.tableName, Key: { pk: 'CLIENT#sweep-d', sk: 'STATUS' } }));
    expect(item.Item?.offboardedIdx).toBe('OFFBOARDED');
  });

  it('reports zero when nobody is offboarded', async () => {
    const telemetry = new RecordingTelemetry();
    const empty = { list: async () => [], unlist: async () => undefined };
    expect(await createSweeperHandler(empty, telemetry, { ...POLICY, reconnectSkewMs: 0 })()).toEqual({ offboarded: 0, held: 0, longestSeconds: 0, unlisted: 0, probed: 0 });
    expect(telemetry.durations).toEqual([{ metric: 'ClientOffboardedSeconds', value: 0 }]);
  });
});
