import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface InboundBucketProps {
  /** Stage setting `webhook.inboundObjectExpiryDays`: objects are deleted this many days after they were written. */
  readonly expiryDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Where the webhook puts a change too large for one SQS message (its inbound-events message carries `valueRef`).
 * Encrypted with S3-managed keys (SSE-S3), as the queues that carry the same changes use SQS-managed keys: a consumer
 * needs s3:GetObject only (no key policy, no kms:Decrypt, no cross-account key grant), and no KMS request is paid per
 * object. TLS only, public access blocked, bucket-owner-enforced ownership (no ACLs), objects expire.
 */
export class InboundBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: InboundBucketProps) {
    super(scope, id);
    if (!Number.isInteger(props.expiryDays) || props.expiryDays < 1 || props.expiryDays > 3650) {
      throw new Error(`${id}: expiryDays must be a whole number of days from 1 to 3650`);
    }
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-inbound-objects', expiration: Duration.days(props.expiryDays), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Only the webhook function writes (s3:PutObject under inbound/, its role allows nothing else) and objects expire; CloudTrail data events can be enabled where reads must be audited, at a cost the stack does not impose.',
    });
  }
}
