import { inject } from 'vitest';

/**
 * Environment for a local pipeline (`npm start` or `startPipeline`) that shares the test run's emulators but keeps
 * every table and queue of its own, named after `tag`, so pipelines in parallel test files never see each other.
 */
export const isolatedPipelineEnv = (tag: string): Record<string, string> => ({
  AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
  AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
  TABLE_NAME: `${tag}-table`,
  OUTBOUND_QUEUE_NAME: `${tag}-outbound`,
  DELAY_QUEUE_NAME: `${tag}-delay`,
  DEAD_LETTER_QUEUE_NAME: `${tag}-dlq`,
  INBOUND_EVENTS_QUEUE_NAME: `${tag}-inbound`,
  RELEASE_QUEUE_NAME: `${tag}-release`,
  INBOUND_BUCKET_NAME: `${tag.toLowerCase()}-inbound`,
});
