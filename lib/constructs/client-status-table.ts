import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  OFFBOARDED_INDEX,
  OFFBOARDED_INDEX_PK,
  OFFBOARDED_INDEX_SK,
  TABLE_PARTITION_KEY,
  TABLE_SORT_KEY,
  TABLE_STREAM_VIEW,
  TABLE_TTL_ATTRIBUTE,
} from '../../lambdas/adapters/dynamo/table.js';

export interface ClientStatusTableProps {
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * The single table: client status, event timeline, parked-message markers and send claims. On-demand, encrypted,
 * point-in-time recovery, TTL for the timeline and claims, a stream of old and new images (the client counters). Its logical id must never change (a new id is a new,
 * empty table).
 */
export class ClientStatusTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: ClientStatusTableProps) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: TABLE_PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: TABLE_SORT_KEY, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_TTL_ATTRIBUTE,
      // Read by the tally function (the client counters); Lambda's reads of it cost nothing.
      dynamoStream: StreamViewType[TABLE_STREAM_VIEW],
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      globalSecondaryIndexes: [
        {
          indexName: OFFBOARDED_INDEX,
          partitionKey: { name: OFFBOARDED_INDEX_PK, type: AttributeType.STRING },
          sortKey: { name: OFFBOARDED_INDEX_SK, type: AttributeType.STRING },
        },
      ],
    });
  }
}
