import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

export type ConditionalWrite =
  | { readonly written: true; readonly attributes: Record<string, unknown> | undefined }
  /** The condition failed: the item as it was (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), null when there was none. */
  | { readonly written: false; readonly old: Record<string, unknown> | null };

/**
 * The one conditional write of the relay's stores: an UpdateItem whose refusal returns the item that refused it, so no
 * store reads an item again to learn why its condition failed.
 */
export const conditionalUpdate = async (doc: DynamoDBDocumentClient, input: UpdateCommandInput): Promise<ConditionalWrite> => {
  try {
    const out = await doc.send(new UpdateCommand({ ...input, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
    return { written: true, attributes: out.Attributes };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return { written: false, old: error.Item ? unmarshall(error.Item) : null };
  }
};
