import { inject } from 'vitest';
import { pipelineNames } from '../../local/pipeline.js';

/**
 * Environment for a local pipeline (`npm start` or `startPipeline`) that shares the test run's emulators but keeps
 * every table and queue of its own, named after `tag`, so pipelines in parallel test files never see each other.
 */
export const isolatedPipelineEnv = (tag: string): Record<string, string> => ({
  AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
  AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
  ...pipelineNames(tag),
  INBOUND_BUCKET_NAME: `${tag.toLowerCase()}-inbound`,
});
