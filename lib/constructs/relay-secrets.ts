import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnOutput, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface RelaySecretsProps {
  readonly appSecretName?: string;
  readonly verifyTokenName?: string;
  readonly accessTokenName?: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The app secret(s), the webhook verify token and the Cloud API token(s). Imported by name when configured,
 * otherwise created with a random placeholder (which fails closed: no signature matches it) for you to replace.
 */
export class RelaySecrets extends Construct {
  readonly appSecret: ISecret;
  readonly verifyToken: ISecret;
  readonly accessToken: ISecret;

  constructor(scope: Construct, id: string, props: RelaySecretsProps) {
    super(scope, id);
    const secret = (cid: string, name: string | undefined, description: string): ISecret => {
      if (name) return Secret.fromSecretNameV2(this, cid, name);
      const created = new Secret(this, cid, {
        description,
        removalPolicy: props.removalPolicy,
        generateSecretString: { passwordLength: 40, excludePunctuation: true },
      });
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Rotated where it is issued (Meta App Dashboard / Business Manager), then stored here by an operator; a rotation Lambda cannot rotate it.',
      });
      return created;
    };
    this.appSecret = secret('AppSecret', props.appSecretName, 'Meta app secret(s) used to verify X-Hub-Signature-256; comma-separated during rotation');
    this.verifyToken = secret('VerifyToken', props.verifyTokenName, 'Token Meta sends in the webhook subscription handshake (hub.verify_token)');
    this.accessToken = secret('AccessToken', props.accessTokenName, 'Cloud API token: one token, or JSON {"default": "...", "byWaba": {"<wabaId>": "..."}}');
    const stack = Stack.of(this);
    new CfnOutput(stack, 'AppSecretArn', { value: this.appSecret.secretArn, description: 'Put the Meta app secret here (comma-separated during rotation)' });
    new CfnOutput(stack, 'VerifyTokenSecretArn', { value: this.verifyToken.secretArn, description: 'The webhook verify token to paste into Meta' });
    new CfnOutput(stack, 'AccessTokenSecretArn', { value: this.accessToken.secretArn, description: 'Cloud API token(s)' });
  }
}
