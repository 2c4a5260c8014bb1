#!/usr/bin/env node
/**
 * The CDK app: `npx cdk deploy -c stage=dev|staging|prod` (default dev). This is the only place that reads context
 * or the environment; everything below it gets a typed stage config.
 */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RelayStack } from '../lib/relay-stack.js';
import { stackNameOf } from '../lib/stack-outputs.js';
import { type StageConfig, stageConfig, UnknownStageError } from '../lib/stage-config.js';

const app = new App();
let config: StageConfig;
try {
  config = stageConfig(app.node.tryGetContext('stage'));
} catch (error) {
  if (!(error instanceof UnknownStageError)) throw error;
  // An operator's typo: one line that says what to type, not a stack trace.
  console.error(`coexistence-relay: ${error.message}`);
  process.exit(1);
}
const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;

const stack = new RelayStack(app, stackNameOf(config.stage), {
  config: alarmEmail ? { ...config, alarms: { ...config.alarms, email: alarmEmail } } : config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `coexistence-relay (${config.stage}): pauses and resumes WhatsApp Cloud API sends for coexistence clients`,
});
Tags.of(stack).add('project', 'coexistence-relay');
Tags.of(stack).add('stage', config.stage);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
