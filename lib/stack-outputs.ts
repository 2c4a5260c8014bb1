/**
 * The stack's CloudFormation output names that tools read (`npm run cli -- --stage <name>` finds a deployed stack
 * through them). One place: the stack writes these names and the CLI reads them. Renaming one breaks every CLI
 * and script that reads a deployed stack.
 */
export const STACK_OUTPUTS = {
  clientStatusUrl: 'ClientStatusUrl',
  outboundQueueUrl: 'OutboundQueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  inboundEventsQueueUrl: 'InboundEventsQueueUrl',
  tableName: 'TableName',
  region: 'Region',
} as const;

/** `ClientStatusUrl` is the API's URL followed by this route template. */
export const CLIENT_STATUS_ROUTE = '/clients/{wabaId}';

/** The stack name of a stage, as bin/app.ts names it. */
export const stackNameOf = (stage: string): string => `CoexistenceRelay-${stage}`;
