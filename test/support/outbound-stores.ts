import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoClientPhoneNumbers, DynamoSendLedger, DynamoStatusReader } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoPhoneOwnership } from '../../lambdas/adapters/dynamo/phone-ownership.js';
import { DynamoParkedStore } from '../../lambdas/adapters/dynamo/release-stores.js';

/** The consumer's DynamoDB stores on one table, as its entry point wires them (tests and benchmarks). */
export const dynamoOutboundStores = (doc: DynamoDBDocumentClient, tableName: string, ledger: { leaseMs: number; retentionDays: number }) => ({
  statuses: new DynamoStatusReader(doc, tableName),
  phones: new DynamoPhoneOwnership(doc, tableName),
  ledger: new DynamoSendLedger(doc, tableName, ledger.leaseMs, ledger.retentionDays),
  phoneNumbers: new DynamoClientPhoneNumbers(doc, tableName),
  parked: new DynamoParkedStore(doc, tableName),
});
