import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { RelayStack } from '../../lib/relay-stack.js';
import { CLIENT_STATUS_ROUTE, STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { STAGE_CONFIGS, type StageConfig, type StageName, stageConfig, UnknownStageError } from '../../lib/stage-config.js';

/** Template without running esbuild (bundling is exercised by the synth test and the benchmark). */
const build = (config: StageConfig, withNag = false) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new RelayStack(app, `CoexistenceRelay-${config.stage}`, { config, env: { account: '111111111111', region: 'eu-west-1' } });
  if (withNag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: Template.fromStack(stack) };
};

const templates = Object.fromEntries(
  (Object.keys(STAGE_CONFIGS) as StageName[]).map((s) => [s, build(STAGE_CONFIGS[s]).template]),
) as Record<StageName, Template>;
const prod = templates.prod;

type Res = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
const resources = (t: Template, type: string): [string, Res][] => Object.entries(t.findResources(type)) as [string, Res][];
const functionByDescription = (t: Template, text: string): [string, Res] => {
  const found = resources(t, 'AWS::Lambda::Function').find(([, r]) => String(r.Properties.Description).includes(text));
  if (!found) throw new Error(`no function described as ${text}`);
  return found;
};
const policyOf = (t: Template, fnLogicalId: string) => {
  const fn = t.toJSON().Resources[fnLogicalId] as Res;
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = resources(t, 'AWS::IAM::Policy').filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === roleId));
  return policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
};
const actionsOf = (statements: { Action: string | string[] }[]) => statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();

describe('cdk.json', () => {
  it('keeps synthesis offline: no notices, no CLI telemetry', async () => {
    const { readFile } = await import('node:fs/promises');
    const cdk = JSON.parse(await readFile(new URL('../../cdk.json', import.meta.url), 'utf8'));
    expect(cdk.notices).toBe(false);
    expect(cdk.context['cli-telemetry']).toBe(false);
  });
});

describe('stage selection', () => {
  it('defaults to dev, accepts the three stages and refuses others with a clear error', () => {
    expect(stageConfig(undefined).stage).toBe('dev');
    expect(stageConfig('prod').stage).toBe('prod');
    expect(() => stageConfig('production')).toThrow(UnknownStageError);
    expect(() => stageConfig('production')).toThrow('-c stage=dev|staging|prod');
  });
});

describe('functions', () => {
  it.each(Object.keys(templates))('%s: Node.js 22 on arm64 with JSON logs, a retained log group, source maps and X-Ray', (stage) => {
    const t = templates[stage as StageName];
    const fns = resources(t, 'AWS::Lambda::Function');
    expect(fns).toHaveLength(6);
    for (const [, fn] of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        LoggingConfig: { LogFormat: 'JSON' },
        TracingConfig: { Mode: 'Active' },
        Environment: { Variables: expect.objectContaining({ NODE_OPTIONS: '--enable-source-maps' }) },
      });
    }
    const days = STAGE_CONFIGS[stage as StageName].logRetentionDays;
    for (const [, lg] of resources(t, 'AWS::Logs::LogGroup')) expect(lg.Properties.RetentionInDays).toBe(days);
  });

  it('runs with source maps by default and can turn them off per stage', () => {
    const off = build({ ...STAGE_CONFIGS.prod, sourceMapsAtRuntime: false }).template;
    for (const [, fn] of resources(off, 'AWS::Lambda::Function')) expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
  });

  it('passes names and ARNs only, never a secret value', () => {
    for (const [, fn] of resources(prod, 'AWS::Lambda::Function')) {
      const vars = fn.Properties.Environment.Variables as Record<string, unknown>;
      for (const name of ['META_APP_SECRET', 'WEBHOOK_VERIFY_TOKEN', 'WHATSAPP_ACCESS_TOKEN']) expect(vars[name]).toBeUndefined();
      for (const [k, v] of Object.entries(vars)) if (k.endsWith('_SECRET_ID')) expect(v).toMatchObject({ Ref: expect.any(String) });
    }
    const [, webhook] = functionByDescription(prod, 'Verifies Meta webhooks');
    expect(Object.keys(webhook.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining(['TABLE_NAME', 'INBOUND_EVENTS_QUEUE_URL', 'OUTBOUND_QUEUE_URL', 'META_APP_SECRET_ID', 'WEBHOOK_VERIFY_TOKEN_SECRET_ID']),
    );
  });

  it('lets only the consumer loop through SQS (recursiveLoop Allow), with a per-stage namespace for metrics', () => {
    const [, consumer] = functionByDescription(prod, 'Sends, parks or dead-letters');
    expect(consumer.Properties.RecursiveLoop).toBe('Allow');
    expect(consumer.Properties.Environment.Variables).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: 'CoexistenceRelay/prod', PARK_DELAY_SCHEDULE: '900' });
    const [, webhook] = functionByDescription(prod, 'Verifies Meta webhooks');
    expect(webhook.Properties.RecursiveLoop).toBe('Terminate');
  });

  it.each(Object.keys(templates))('%s: the outbound, delay and release queues feed their functions with partial batch responses and the stage concurrency', (stage) => {
    const t = templates[stage as StageName];
    const mappings = resources(t, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => !m.Properties.StartingPosition);
    expect(mappings).toHaveLength(3);
    for (const [, m] of mappings) {
      expect(m.Properties).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
        ScalingConfig: { MaximumConcurrency: STAGE_CONFIGS[stage as StageName].consumer.maxConcurrency },
      });
    }
  });
});

describe('client counters (the tally function on the table stream)', () => {
  const [tallyId, tallyFn] = functionByDescription(prod, 'Counts each client');

  it('streams old and new images and counts only message items, gathered for the stage window, retried then split', () => {
    const [, table] = resources(prod, 'AWS::DynamoDB::GlobalTable')[0] ?? [];
    expect(table?.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    const streamMappings = resources(prod, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => m.Properties.StartingPosition);
    expect(streamMappings).toHaveLength(1);
    const [, m] = streamMappings[0] as [string, { Properties: Record<string, unknown> }];
    expect(m.Properties).toMatchObject({
      FunctionName: { Ref: tallyId },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: STAGE_CONFIGS.prod.relay.counterWindowSeconds,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
    });
    const patterns = (m.Properties.FilterCriteria as { Filters: { Pattern: string }[] }).Filters.map((f) => JSON.parse(f.Pattern));
    expect(patterns).toEqual([{ eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { pk: { S: [{ prefix: 'WABA#' }] } } } }]);
    expect(tallyFn.Properties.Environment.Variables).toMatchObject({ TABLE_NAME: expect.anything() });
  });

  it('may only update items of the table and read its stream', () => {
    const actions = actionsOf(policyOf(prod, tallyId));
    expect(actions.filter((a) => a.startsWith('dynamodb:') && !a.startsWith('dynamodb:GetRecords') && !a.startsWith('dynamodb:GetShardIterator') && !a.startsWith('dynamodb:DescribeStream') && !a.startsWith('dynamodb:ListStreams')).sort()).toEqual(['dynamodb:UpdateItem']);
    expect(actions.filter((a) => a.startsWith('sqs:') || a.startsWith('sns:') || a.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('refuses a window outside 0-300 s', () => {
    expect(() => build({ ...STAGE_CONFIGS.dev, relay: { ...STAGE_CONFIGS.dev.relay, counterWindowSeconds: 301 } })).toThrow('0-300');
  });
});

describe('queues', () => {
  const queues = resources(prod, 'AWS::SQS::Queue');
  const byId = (prefix: string) => {
    const q = queues.find(([id]) => id.startsWith(prefix));
    if (!q) throw new Error(`no queue ${prefix}`);
    return q[1];
  };

  it('encrypts every queue and denies requests without TLS', () => {
    expect(queues.length).toBe(9);
    for (const [, q] of queues) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = resources(prod, 'AWS::SQS::QueuePolicy');
    const covered = policies
      .filter(([, p]) =>
        p.Properties.PolicyDocument.Statement.some(
          (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
        ),
      )
      .flatMap(([, p]) => p.Properties.Queues.map((q: any) => q['Fn::GetAtt']?.[0] ?? q.Ref));
    expect(new Set(covered)).toEqual(new Set(queues.map(([id]) => id)));
  });

  it('sets the visibility timeout of consumed queues to at least 6x the consumer timeout', () => {
    const timeout = STAGE_CONFIGS.prod.consumer.timeout.toSeconds();
    for (const id of ['OutboundQueue', 'OutboundDelayQueue']) expect(byId(id).Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('puts a redrive DLQ (maxReceiveCount >= 5) with a longer retention behind each consumed queue', () => {
    for (const id of ['OutboundQueue', 'OutboundDelayQueue', 'InboundEventsQueue']) {
      const q = byId(id);
      expect(q.Properties.RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(5);
      const dlqId = q.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
      const dlq = (prod.toJSON().Resources[dlqId] as Res).Properties;
      expect(dlq.MessageRetentionPeriod).toBeGreaterThan(q.Properties.MessageRetentionPeriod);
    }
    expect(byId('OutboundDeadLetterQueue').Properties.MessageRetentionPeriod).toBe(14 * 86_400);
  });
});

describe('offboarded sweep', () => {
  it.each([
    ['prod', 'rate(5 minutes)'],
    ['dev', 'rate(15 minutes)'],
  ] as const)('%s: runs the sweeper on a schedule, over a sparse index of the table', (stage, rate) => {
    const t = templates[stage];
    const [sweeperId] = functionByDescription(t, 'Counts offboarded and held clients');
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: rate,
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sweeperId, 'Arn'] } })],
    });
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'offboarded',
          KeySchema: [{ AttributeName: 'offboardedIdx', KeyType: 'HASH' }, { AttributeName: 'offboardedKey', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
    });
  });
});

describe('table', () => {
  it('is on-demand, encrypted, with point-in-time recovery and TTL', () => {
    prod.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it.each([
    ['prod', 'Retain', true],
    ['staging', 'Delete', false],
    ['dev', 'Delete', false],
  ] as const)('%s: removal policy %s, deletion protection %s', (stage, policy, protection) => {
    const [[, table]] = resources(templates[stage], 'AWS::DynamoDB::GlobalTable') as [[string, Res]];
    expect(table.DeletionPolicy).toBe(policy);
    expect(table.Properties.Replicas[0].DeletionProtectionEnabled ?? false).toBe(protection);
  });
});

describe('API', () => {
  it('exposes the webhook routes publicly and the status and reset routes behind IAM', () => {
    const routes = Object.fromEntries(resources(prod, 'AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r.Properties.AuthorizationType]));
    expect(routes).toEqual({
      'GET /webhook': 'NONE',
      'POST /webhook': 'NONE',
      'GET /clients/{wabaId}': 'AWS_IAM',
      'POST /clients/{wabaId}/reset': 'AWS_IAM',
      'GET /messages/{wabaId}/{messageId}': 'AWS_IAM',
    });
  });

  it.each(Object.keys(templates))('%s: throttles the stage and writes access logs', (stage) => {
    const cfg = STAGE_CONFIGS[stage as StageName];
    templates[stage as StageName].hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: cfg.api.throttleRateLimit, ThrottlingBurstLimit: cfg.api.throttleBurstLimit },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it.each(Object.keys(templates))('%s: throttles each webhook route below the stage and caps the webhook function', (stage) => {
    const cfg = STAGE_CONFIGS[stage as StageName];
    const t = templates[stage as StageName];
    const routeThrottle = { ThrottlingRateLimit: cfg.api.webhookRateLimit, ThrottlingBurstLimit: cfg.api.webhookBurstLimit };
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', { RouteSettings: { 'GET /webhook': routeThrottle, 'POST /webhook': routeThrottle } });
    expect(cfg.api.webhookRateLimit).toBeLessThan(cfg.api.throttleRateLimit);
    expect(cfg.api.webhookBurstLimit).toBeLessThan(cfg.api.throttleBurstLimit);
    // The stage names routes by key: it is created after them.
    const [stageId, stageRes] = resources(t, 'AWS::ApiGatewayV2::Stage')[0] as [string, Res & { DependsOn?: string[] }];
    const routeIds = resources(t, 'AWS::ApiGatewayV2::Route').filter(([, r]) => String(r.Properties.RouteKey).endsWith('/webhook')).map(([id]) => id);
    expect(stageId).toBeDefined();
    expect(stageRes.DependsOn).toEqual(expect.arrayContaining(routeIds));
    // Reserved concurrency on the webhook function only: a flood cannot take the consumer's share of the account.
    const [, webhook] = functionByDescription(t, 'Verifies Meta webhooks');
    expect(webhook.Properties.ReservedConcurrentExecutions).toBe(cfg.webhook.reservedConcurrency);
    const reserved = resources(t, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.ReservedConcurrentExecutions !== undefined);
    expect(reserved).toHaveLength(1);
  });

  it('pins the documented flood limits per stage', () => {
    expect(Object.fromEntries(Object.entries(STAGE_CONFIGS).map(([s, c]) => [s, [c.api.webhookRateLimit, c.api.webhookBurstLimit, c.webhook.reservedConcurrency]]))).toEqual({
      dev: [20, 40, 5],
      staging: [100, 200, 20],
      prod: [500, 1000, 100],
    });
  });

  it('refuses webhook route limits above the stage limits, and a reserved concurrency below 1', () => {
    expect(() => build({ ...STAGE_CONFIGS.dev, api: { ...STAGE_CONFIGS.dev.api, webhookRateLimit: 51 } })).toThrow("webhook route's throttling");
    expect(() => build({ ...STAGE_CONFIGS.dev, webhook: { ...STAGE_CONFIGS.dev.webhook, reservedConcurrency: 0 } })).toThrow('reservedConcurrency');
    const unreserved = build({ ...STAGE_CONFIGS.dev, webhook: { timeout: STAGE_CONFIGS.dev.webhook.timeout, memoryMiB: 512, inboundObjectExpiryDays: 14 } }).template;
    expect(resources(unreserved, 'AWS::Lambda::Function').every(([, f]) => f.Properties.ReservedConcurrentExecutions === undefined)).toBe(true);
  });

  it('outputs the webhook callback URL, the outbound queue URL and where to put each secret', () => {
    const outputs = prod.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['WebhookCallbackUrl', 'ClientStatusUrl', 'OutboundQueueUrl', 'DeadLetterQueueUrl', 'AppSecretArn', 'VerifyTokenSecretArn', 'AccessTokenSecretArn']),
    );
    expect(JSON.stringify(outputs.WebhookCallbackUrl?.Value)).toContain('/webhook');
    expect(outputs.OutboundQueueUrl?.Value).toMatchObject({ Ref: 'OutboundQueue50884AE9' });
  });

  it('outputs everything `npm run cli -- --stage` reads, under the names the CLI reads', () => {
    const outputs = prod.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(Object.values(STACK_OUTPUTS)));
    expect(JSON.stringify(outputs[STACK_OUTPUTS.clientStatusUrl]?.Value)).toContain(CLIENT_STATUS_ROUTE);
    expect(outputs[STACK_OUTPUTS.region]?.Value).toBe('eu-west-1');
  });
});

describe('least privilege', () => {
  const [webhookId] = functionByDescription(prod, 'Verifies Meta webhooks');
  const [statusId] = functionByDescription(prod, 'Answers GET /clients');
  const [consumerId] = functionByDescription(prod, 'Sends, parks or dead-letters');
  const [releaserId] = functionByDescription(prod, 'Releases a client');
  const xrayAndLogs = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
  /** Publishing relay events: sns:Publish, and the topic key's use by SNS. */
  const relayEvents = ['kms:Decrypt', 'kms:GenerateDataKey', 'sns:Publish'];

  it.each([
    ['webhook', webhookId, ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 's3:PutObject', 'secretsmanager:GetSecretValue', 'sqs:SendMessage', ...relayEvents]],
    ['status', statusId, ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'sqs:SendMessage']],
    [
      'consumer',
      consumerId,
      [
        'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes',
        'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:ReceiveMessage', 'sqs:SendMessage',
        ...relayEvents,
      ],
    ],
    [
      'releaser',
      releaserId,
      [
        'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:SendMessage',
        ...relayEvents,
      ],
    ],
  ])('%s gets exactly the actions it uses', (_name, id, expected) => {
    expect(actionsOf(policyOf(prod, id))).toEqual([...expected, ...xrayAndLogs].sort());
  });

  it('lets the sweeper only query the offboarded index, update client items (unlist, probe turns), read the access token and request releases', () => {
    const [sweeperId, sweeper] = functionByDescription(prod, 'Counts offboarded and held clients');
    const statements = policyOf(prod, sweeperId).filter((s) => !actionsOf([s]).some((a) => a.startsWith('logs:') || a.startsWith('xray:')));
    expect(statements.map((s) => [s.Action, JSON.stringify(s.Resource)])).toEqual([
      ['dynamodb:Query', expect.stringContaining('/index/offboarded')],
      ['dynamodb:UpdateItem', JSON.stringify({ 'Fn::GetAtt': ['ClientStatusTableD3BF24E1', 'Arn'] })],
      ['secretsmanager:GetSecretValue', expect.stringMatching(/SecretsAccessToken/)],
      ['sqs:SendMessage', expect.stringMatching(/ReleaseQueue/)],
    ]);
    const env = sweeper.Properties.Environment.Variables;
    expect(env).toMatchObject({
      PROBE_INTERVAL_SECONDS: '60',
      PROBE_MAX_INTERVAL_SECONDS: '900',
      PROBE_BUDGET_PERCENT: '2',
      PROBE_ENDS_OFFBOARDING: 'false',
      STALE_OFFBOARDING_SECONDS: '1800',
      GRAPH_API_VERSION: 'v25.0',
    });
    expect(env.WHATSAPP_ACCESS_TOKEN).toBeUndefined();
  });

  it('gives the consumer and the status route the same probe settings as the sweeper', () => {
    const [, consumer] = functionByDescription(prod, 'Sends, parks or dead-letters');
    expect(consumer.Properties.Environment.Variables).toMatchObject({ PROBE_INTERVAL_SECONDS: '60', PROBE_ENDS_OFFBOARDING: 'false' });
    const on = build({ ...STAGE_CONFIGS.prod, health: { ...STAGE_CONFIGS.prod.health, probeEndsOffboarding: true } }).template;
    for (const d of ['Sends, parks or dead-letters', 'Counts offboarded and held clients']) {
      expect(functionByDescription(on, d)[1].Properties.Environment.Variables.PROBE_ENDS_OFFBOARDING).toBe('true');
    }
  });

  it('uses "*" only for X-Ray and attaches no AWS managed policy', () => {
    for (const id of [webhookId, statusId, consumerId, releaserId]) {
      for (const s of policyOf(prod, id)) {
        if (s.Resource === '*') expect(actionsOf([s]).every((a) => a.startsWith('xray:'))).toBe(true);
      }
    }
    for (const [, role] of resources(prod, 'AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('lets the publishers publish to the relay-events topic only, and use its key only', () => {
    const [[topicId]] = resources(prod, 'AWS::SNS::Topic').filter(([id]) => id.startsWith('RelayEventsTopic')) as [[string, Res]];
    const [[keyId]] = resources(prod, 'AWS::KMS::Key').filter(([id]) => id.startsWith('RelayEventsTopicKey')) as [[string, Res]];
    for (const id of [webhookId, consumerId, releaserId]) {
      const statements = policyOf(prod, id);
      expect(statements.filter((s) => actionsOf([s]).includes('sns:Publish')).map((s) => [s.Action, s.Resource])).toEqual([['sns:Publish', { Ref: topicId }]]);
      expect(statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('kms:'))).map((s) => [s.Action, s.Resource])).toEqual([
        [['kms:Decrypt', 'kms:GenerateDataKey'], { 'Fn::GetAtt': [keyId, 'Arn'] }],
      ]);
    }
    for (const d of ['Answers GET /clients', 'Counts offboarded and held clients']) {
      expect(actionsOf(policyOf(prod, functionByDescription(prod, d)[0])).filter((a) => a.startsWith('sns:') || a.startsWith('kms:'))).toEqual([]);
    }
  });

  it('scopes the webhook secrets to the app secret and verify token only', () => {
    const s = policyOf(prod, webhookId).find((x) => x.Action === 'secretsmanager:GetSecretValue');
    expect(s?.Resource).toEqual([{ Ref: expect.stringMatching(/^SecretsAppSecret/) }, { Ref: expect.stringMatching(/^SecretsVerifyToken/) }]);
  });
});

describe('secrets', () => {
  it('creates the three secrets when no names are configured', () => {
    expect(resources(prod, 'AWS::SecretsManager::Secret')).toHaveLength(3);
  });
  it('imports existing secrets by name instead of creating them', () => {
    const cfg = { ...STAGE_CONFIGS.prod, secrets: { appSecretName: 'meta/app', verifyTokenName: 'meta/verify', accessTokenName: 'meta/token' } };
    const t = build(cfg).template;
    expect(resources(t, 'AWS::SecretsManager::Secret')).toHaveLength(0);
    const [, webhook] = functionByDescription(t, 'Verifies Meta webhooks');
    expect(JSON.stringify(webhook.Properties.Environment.Variables.META_APP_SECRET_ID)).toContain('secret:meta/app');
  });
});

describe('monitoring', () => {
  const alarms = resources(prod, 'AWS::CloudWatch::Alarm');
  const metricOf = (a: Res) => `${a.Properties.Namespace}/${a.Properties.MetricName}`;

  it('alarms on every failure mode named in the runbook, all to the encrypted topic', () => {
    const metrics = alarms.map(([, a]) => metricOf(a));
    expect(metrics).toEqual(
      expect.arrayContaining([
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
        'AWS/SQS/ApproximateAgeOfOldestMessage',
        'AWS/ApiGateway/5xx',
        'CoexistenceRelay/prod/WebhookSignatureRejected',
        'CoexistenceRelay/prod/ClientOffboardedSeconds',
        'CoexistenceRelay/prod/ClientsHeld',
        'AWS/Lambda/RecursiveInvocationsDropped',
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
      ]),
    );
    // dead letters + 4 redrive DLQs + oldest age + 5xx + signatures + offboarded + held + recursion + release stalled +
    // release failed + token refused + relay events not published + not delivered + 6x(errors, throttles)
    expect(alarms).toHaveLength(28);
    expect(metrics).toEqual(expect.arrayContaining(['CoexistenceRelay/prod/ReleaseErrors', 'AWS/SNS/NumberOfNotificationsFailed']));
    const [[topicId, topic]] = resources(prod, 'AWS::SNS::Topic').filter(([id]) => id.startsWith('MonitoringAlarmTopic')) as [[string, Res]];
    expect(topic.Properties.KmsMasterKeyId).toBeDefined();
    for (const [, a] of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it('alarms when any publisher gives up publishing relay events (the sum of their RelayEventPublishFailures)', () => {
    const [, a] = alarms.find(([id]) => id.startsWith('MonitoringRelayEventPublishFailures')) as [string, Res];
    const metrics = (a.Properties.Metrics as { Id: string; MetricStat?: { Metric: { MetricName: string; Dimensions: { Value: string }[] } } }[])
      .flatMap((m) => (m.MetricStat ? [`${m.MetricStat.Metric.MetricName}/${m.MetricStat.Metric.Dimensions[0]?.Value}`] : []))
      .sort();
    expect(metrics).toEqual(['RelayEventPublishFailures/consumer', 'RelayEventPublishFailures/releaser', 'RelayEventPublishFailures/webhook']);
    expect(a.Properties.Threshold).toBe(1);
  });

  it('alarms on the first client held because its access token was refused, in the consumer or a release', () => {
    const [, a] = alarms.find(([id]) => id.startsWith('MonitoringTokenInvalidHolds')) as [string, Res];
    const metrics = (a.Properties.Metrics as { MetricStat?: { Metric: { MetricName: string; Dimensions: { Value: string }[] } } }[])
      .flatMap((m) => (m.MetricStat ? [`${m.MetricStat.Metric.MetricName}/${m.MetricStat.Metric.Dimensions[0]?.Value}`] : []))
      .sort();
    expect(metrics).toEqual(['TokenInvalidHolds/consumer', 'TokenInvalidHolds/releaser']);
    expect(a.Properties.Threshold).toBe(1);
  });

  it('uses the stage thresholds', () => {
    const find = (metric: string) => alarms.find(([, a]) => metricOf(a) === metric)?.[1].Properties.Threshold;
    expect(find('CoexistenceRelay/prod/ClientOffboardedSeconds')).toBe(STAGE_CONFIGS.prod.alarms.offboardedTooLong.toSeconds());
    expect(find('AWS/SQS/ApproximateAgeOfOldestMessage')).toBe(STAGE_CONFIGS.prod.alarms.outboundOldestMessageAge.toSeconds());
    const dev = resources(templates.dev, 'AWS::CloudWatch::Alarm').find(([, a]) => metricOf(a) === 'AWS/ApiGateway/5xx');
    expect(dev?.[1].Properties.Threshold).toBe(STAGE_CONFIGS.dev.alarms.webhook5xxPer5Minutes);
  });

  it('subscribes the configured e-mail and draws the dashboard', () => {
    const t = build({ ...STAGE_CONFIGS.prod, alarms: { ...STAGE_CONFIGS.prod.alarms, email: 'ops@example.com' } }).template;
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    const [[, dashboard]] = resources(prod, 'AWS::CloudWatch::Dashboard') as [[string, Res]];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const m of ['RelayEventPublishFailures', 'NumberOfNotificationsFailed', 'ClientStatusChanged', 'MessagesParked', 'MessagesSent', 'MessagesDeadLettered', 'ParkAgeSeconds', 'ClientOffboardedSeconds', 'MessagesReleased', 'ReleasesCompleted']) expect(body).toContain(m);
  });
});

describe('inbound bucket (changes too large for one SQS message)', () => {
  const bucketOf = (t: Template): [string, Res] => {
    const buckets = resources(t, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(1);
    return buckets[0] as [string, Res];
  };

  it.each(Object.keys(templates))('%s: S3-managed encryption, public access blocked, no ACLs, objects expire after the stage setting', (stage) => {
    const [, bucket] = bucketOf(templates[stage as StageName]);
    expect(bucket.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    const rules = bucket.Properties.LifecycleConfiguration.Rules as { ExpirationInDays?: number; Status: string; Prefix?: string }[];
    expect(rules.filter((r) => r.Status === 'Enabled' && r.Prefix === undefined).map((r) => r.ExpirationInDays)).toContain(STAGE_CONFIGS[stage as StageName].webhook.inboundObjectExpiryDays);
  });

  it('keeps objects 14 days by default, takes another number of days from the stage config, and refuses a bad one', () => {
    expect(STAGE_CONFIGS.prod.webhook.inboundObjectExpiryDays).toBe(14);
    const t = build({ ...STAGE_CONFIGS.dev, webhook: { ...STAGE_CONFIGS.dev.webhook, inboundObjectExpiryDays: 3 } }).template;
    expect(bucketOf(t)[1].Properties.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ ExpirationInDays: 3, Status: 'Enabled' })]);
    expect(() => build({ ...STAGE_CONFIGS.dev, webhook: { ...STAGE_CONFIGS.dev.webhook, inboundObjectExpiryDays: 0 } })).toThrow('expiryDays');
  });

  it('denies requests without TLS in the bucket policy', () => {
    const [bucketId] = bucketOf(prod);
    const [[, policy]] = resources(prod, 'AWS::S3::BucketPolicy') as [[string, Res]];
    expect(policy.Properties.Bucket).toEqual({ Ref: bucketId });
    expect(policy.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    );
  });

  it.each([
    ['prod', 'Retain'],
    ['staging', 'Delete'],
    ['dev', 'Delete'],
  ] as const)('%s: removal policy %s, like the table', (stage, policy) => {
    expect(bucketOf(templates[stage])[1].DeletionPolicy).toBe(policy);
  });

  it('lets the webhook only put objects under inbound/, gives it the bucket name, and outputs the name', () => {
    const [bucketId] = bucketOf(prod);
    const [webhookId, webhook] = functionByDescription(prod, 'Verifies Meta webhooks');
    const s3 = policyOf(prod, webhookId).filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')));
    expect(s3.map((s) => [s.Action, s.Resource])).toEqual([['s3:PutObject', { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/inbound/*']] }]]);
    expect(webhook.Properties.Environment.Variables.INBOUND_BUCKET_NAME).toEqual({ Ref: bucketId });
    for (const d of ['Answers GET /clients', 'Sends, parks or dead-letters', 'Releases a client', 'Counts offboarded and held clients']) {
      const [id] = functionByDescription(prod, d);
      expect(actionsOf(policyOf(prod, id)).filter((a) => a.startsWith('s3:'))).toEqual([]);
    }
    expect((prod.toJSON().Outputs as Record<string, { Value: unknown }>).InboundBucketName?.Value).toEqual({ Ref: bucketId });
  });
});

describe('relay events', () => {
  const [[topicId, topic]] = resources(prod, 'AWS::SNS::Topic').filter(([id]) => id.startsWith('RelayEventsTopic')) as [[string, Res]];

  it.each(Object.keys(templates))('%s: one topic named after the stack, encrypted with its own rotated key', (stage) => {
    const t = templates[stage as StageName];
    const [[, s]] = resources(t, 'AWS::SNS::Topic').filter(([id]) => id.startsWith('RelayEventsTopic')) as [[string, Res]];
    expect(s.Properties.TopicName).toBe(`CoexistenceRelay-${stage}-relay-events`);
    const keyId = s.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
    expect((t.toJSON().Resources[keyId] as Res).Properties.EnableKeyRotation).toBe(true);
  });

  it('denies requests without TLS in the topic policy', () => {
    const policies = resources(prod, 'AWS::SNS::TopicPolicy').filter(([, p]) => p.Properties.Topics.some((x: { Ref: string }) => x.Ref === topicId));
    const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]));
    expect(topic.Properties.KmsMasterKeyId).toBeDefined();
  });

  it('gives the publishers its ARN in RELAY_EVENTS_TOPIC_ARN, and outputs it', () => {
    for (const d of ['Verifies Meta webhooks', 'Sends, parks or dead-letters', 'Releases a client']) {
      expect(functionByDescription(prod, d)[1].Properties.Environment.Variables.RELAY_EVENTS_TOPIC_ARN).toEqual({ Ref: topicId });
    }
    for (const d of ['Answers GET /clients', 'Counts offboarded and held clients']) {
      expect(functionByDescription(prod, d)[1].Properties.Environment.Variables.RELAY_EVENTS_TOPIC_ARN).toBeUndefined();
    }
    expect((prod.toJSON().Outputs as Record<string, { Value: unknown }>).RelayEventsTopicArn?.Value).toEqual({ Ref: topicId });
  });
});

describe('stateful resources keep their logical ids', () => {
  // A changed id makes CloudFormation create a new, empty resource and delete the old one with its data.
  it.each(Object.keys(templates))('%s', (stage) => {
    const t = templates[stage as StageName];
    expect(Object.keys(t.findResources('AWS::DynamoDB::GlobalTable'))).toEqual(['ClientStatusTableD3BF24E1']);
    expect(Object.keys(t.findResources('AWS::SQS::Queue')).sort()).toEqual(
      [
        'InboundEventsQueueD801A4BE',
        'InboundEventsRedriveDlq8EB0BE20',
        'OutboundDeadLetterQueueBAD8FD79',
        'OutboundDelayQueue8158FC04',
        'OutboundDelayRedriveDlq28A48CDD',
        'OutboundQueue50884AE9',
        'OutboundRedriveDlqADE67316',
        'ReleaseQueue8A07A36D',
        'ReleaseRedriveDlq5EB0D14A',
      ].sort(),
    );
    // Consumers' policies name the bucket of valueRef objects.
    expect(Object.keys(t.findResources('AWS::S3::Bucket'))).toEqual(['InboundObjectsBucketC078B650']);
    // Partners' subscriptions point at the topic: a new one would leave them subscribed to nothing.
    expect(Object.keys(t.findResources('AWS::SNS::Topic')).filter((id) => id.startsWith('RelayEvents'))).toEqual(['RelayEventsTopicBA542A0F']);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each(Object.keys(templates))('%s synthesizes with zero errors (every acknowledgement carries a reason)', (stage) => {
    const { app } = build(STAGE_CONFIGS[stage as StageName], true);
    expect(() => app.synth()).not.toThrow();
  });

  it('does fail on a resource that breaks a rule (the check is live)', () => {
    const app = new App();
    new Queue(new Stack(app, 'Bad'), 'PlainQueue', { retentionPeriod: Duration.days(1) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/SQS queue/);
  });
});
