import { CfnOutput, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** The topic's name after the stack's (`CoexistenceRelay-<stage>-relay-events`): one per stage, as the queues are. */
const relayEventsTopicName = (stackName: string): string => `${stackName}-relay-events`;

export interface RelayEventsProps {
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The relay-events SNS topic partners subscribe their queues or functions to: encrypted with its own rotated KMS key,
 * TLS required by the topic policy. Functions publish to it through `RelayFunction.bindTopic` (sns:Publish on this
 * topic, and the key use SNS needs for it, nothing else).
 */
export class RelayEvents extends Construct {
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: RelayEventsProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    this.key = new Key(this, 'TopicKey', { enableKeyRotation: true, description: 'coexistence-relay relay events topic', removalPolicy: props.removalPolicy });
    this.topic = new Topic(this, 'Topic', {
      topicName: relayEventsTopicName(stackName),
      displayName: `${stackName} relay events`,
      masterKey: this.key,
      enforceSSL: true,
    });
    new CfnOutput(scope, 'RelayEventsTopicArn', {
      value: this.topic.topicArn,
      description: 'Relay events (client.status_changed, message.*): subscribe a queue or function, filter on the type attribute',
    });
  }
}
