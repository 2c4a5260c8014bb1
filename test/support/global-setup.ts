import type { TestProject } from 'vitest/node';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
import { type RunningService, startDynamoDbLocal, startFauxqs } from '../../local/services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    sqsEndpoint: string;
  }
}

/**
 * One DynamoDB Local (Java) and one fauxqs for the whole run, on ports chosen now; each test file creates its own
 * uniquely named table and queues. Both are stopped when the run ends, pass or fail.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: RunningService[] = [];
  try {
    const [dynamo, sqs] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    started.push(dynamo, sqs);
    project.provide('dynamoEndpoint', dynamo.endpoint);
    project.provide('sqsEndpoint', sqs.endpoint);
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()));
    throw error;
  }
  return async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
}
