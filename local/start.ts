/**
 * `npm start`: the whole pipeline on this machine, no AWS account needed. Ctrl-C or SIGTERM stops everything.
 * Configuration: see docs/configuration.md (same variable names as the Lambdas).
 */
import { DEFAULTS } from '../lambdas/core/shared/defaults.js';
import { DEV_SECRETS, startPipeline } from './pipeline.js';
import { describeSecret } from './secret-display.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const say = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

try {
  const { info, stop } = await startPipeline(process.env, say);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    await stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // Where each secret came from and at most its last 4 characters: never the value (docs/configuration.md has the
  // development values).
  const secret = (name: keyof typeof DEV_SECRETS) => {
    const fromDefault = info.secretsFromDefaults.includes(name);
    return describeSecret(name, fromDefault ? DEV_SECRETS[name] : (process.env[name] ?? ''), fromDefault);
  };
  for (const name of info.secretsFromDefaults) say(`WARNING    ${name} is not set; using the development value. Never use it outside this machine.`);
  console.log(`
coexistence-relay is running locally
  webhook callback   ${info.url}/webhook          (GET handshake, POST events)
  client status      ${info.url}/clients/{wabaId}
  health             ${info.url}/healthz
  DynamoDB           ${info.dynamodbEndpoint} (${info.dynamodbKind}), table ${info.tableName}
  SQS                ${info.sqsEndpoint}
    outbound         ${info.queues.outbound}
    delay            ${info.queues.delay}
    dead letters     ${info.queues.deadLetter}
    inbound events   ${info.queues.inboundEvents}
    release          ${info.queues.release}
                     (these URLs are for SDK clients given the SQS endpoint; read them with npm run cli -- inbound tail, dead-letters list)
    redrive DLQs     <queue>-redrive-dlq behind outbound, delay and inbound events (after ${DEFAULTS.maxReceiveCount} receives)
  SNS                ${info.snsEndpoint}
    relay events     ${info.relayEvents.topicArn}
    tail queue       ${info.relayEvents.tailQueue}  (npm run cli -- events tail)
  S3                 ${info.s3Endpoint}
    inbound bucket   ${info.inboundBucket}  (changes too large for one SQS message; inbound tail follows them)
  sweeper            every ${info.sweepEverySeconds} s (LOCAL_SWEEP_EVERY_SECONDS): probes held numbers, counts offboarded clients
  tally              ${info.countersFromStream ? "the table's stream, every second: the client counters" : 'off: the table has no stream (dynalite serves none; Java 17 gives DynamoDB Local), the client counters stay 0'}
  Cloud API          ${info.cloudApiUrl}${info.cloudApiEmbedded ? ' (embedded stand-in: accepts every message)' : ''}
  app secret         ${secret('META_APP_SECRET')}
  verify token       ${secret('WEBHOOK_VERIFY_TOKEN')}
  access token       ${secret('WHATSAPP_ACCESS_TOKEN')}

${info.dynamodbKind === 'external' ? '' : 'State lives in memory: stopping loses every client status, queued and parked message.\n'}Ctrl-C stops it. Try: npm run cli -- --help
`);
} catch (error) {
  console.error(`could not start: ${(error as Error).message}`);
  process.exit(1);
}
