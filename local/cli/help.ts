/** The CLI's help texts: `npm run cli -- --help` and each command's `--help` (also printed after a usage error). */
import { DEAD_LETTER_REASONS } from '../../lambdas/core/outbound/outbound-decision.js';
import { RELAY_EVENT_TYPES } from '../../lambdas/core/outcomes/relay-events.js';

const TARGET_HELP = `Target (default: the local pipeline):
  --url <url>          The local pipeline's URL (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
  --stage <name>       A deployed stack, CoexistenceRelay-<name>, read from CloudFormation with your AWS credentials
  --stack <name>       A deployed stack by its name
  --outputs <file>     A deployed stack described by the file \`cdk deploy --outputs-file <file>\` wrote`;

export const HELP: Record<string, string> = {
  main: `Drive the local coexistence-relay pipeline (start it first with: npm start), or operate a deployed stack

Usage: npm run cli -- <command> [options]

Commands (local pipeline or stack):
  status <wabaId>        A client's status, messages waiting now, running totals and timeline
  parked <wabaId>        The messages parked now for a client, in the order a release sends them
  client reset <wabaId>  Clear a client's status records (operator reset); it then reads CONNECTED (alias: reset)
  message <wabaId> <messageId>  A message's outcome (parked, sent, delivered, read, failed, dead-lettered), wamid, history
  dead-letters list      List dead letters, with filters (without removing anything)
  dead-letters redrive   Move dead letters back to the outbound queue (--dry-run shows what would move)
  inbound tail           Show the events waiting on the inbound-events queue (they stay there)
  send                   Enqueue an outbound message on the outbound queue

Commands (local pipeline only):
  webhook <event>        Sign and POST an account_update webhook for a WABA
  webhook-file <path>    Sign and POST a JSON file exactly as it is
  cloud-api refuse       Make the embedded Cloud API stand-in refuse a number's sends, like an offboarded number
  cloud-api accept       Make it send for that number again
  cloud-api statuses     Make the stand-in send Meta's status webhooks for a number's accepted messages
  events tail            Print relay events as they are published (Ctrl-C stops)

${TARGET_HELP}

Other options:
  --secret <secret>    App secret used to sign webhooks (default $META_APP_SECRET, else the development value)
  -h, --help           Help for a command: npm run cli -- send --help

Exit codes: 0 done, 1 failed (the message says why), 2 wrong usage (the command's help follows; for a mistyped
command, action or option, what you probably meant).`,
  webhook: `Usage: npm run cli -- webhook <event> --waba <wabaId> [--time <unix seconds>] [--reason <reason>]

<event> is one of:
  offboard          ACCOUNT_OFFBOARDED
  reconnect         ACCOUNT_RECONNECTED
  partner-removed   PARTNER_REMOVED (with disconnection_info; --reason, default USER_RE_REGISTERED)
  partner-added     PARTNER_ADDED
  deleted           ACCOUNT_DELETED
  disable           DISABLED_UPDATE with waba_ban_state DISABLE
  reinstate         DISABLED_UPDATE with waba_ban_state REINSTATE
  or any event name in capitals (e.g. ACCOUNT_RESTRICTION), sent as it is.

--time defaults to now. Local pipeline only (signed with --secret). Example: npm run cli -- webhook offboard --waba 102290129340398`,
  'webhook-file': `Usage: npm run cli -- webhook-file <path.json> [--secret <secret>]

Signs the file's bytes with the app secret and POSTs them to the local pipeline's /webhook unchanged.`,
  send: `Usage: npm run cli -- send --waba <wabaId> --phone-number-id <id> --to <number> (--text <body> | --payload-file <path>)
                          [--fallback-file <path>] [--message-id <id>] [--not-after <ISO-8601>] [target]
       npm run cli -- send --envelope-file <path> [target]

Enqueues the documented envelope (docs/outbound.md) on the outbound queue. --message-id defaults to a new UUID.
--payload-file and --fallback-file hold a Cloud API request body (JSON); the fallback is sent instead when the
24-hour window closed (131047), normally a template (docs/message-outcomes.md). --envelope-file enqueues a whole
envelope as written (messageId, wabaId, phoneNumberId, payload and the optional notAfter, metadata, fallback),
with none of the other flags. Ids are checked by the relay's rules (WABA and phone number ids: 1-64 letters,
digits, "-" or "_"; message ids: 1-128 characters) and the envelope by the consumer's, before anything is
enqueued.

${TARGET_HELP}`,
  status: `Usage: npm run cli -- status <wabaId> [--json] [target]

Reads GET /clients/{wabaId} (against a stack: SigV4-signed with your AWS credentials) and prints the status, since
when and why, the messages waiting now (parked now, release draining) apart from the running totals since the
client was first seen, the client's health and the timeline. --json prints the route's JSON answer unchanged.

${TARGET_HELP}`,
  parked: `Usage: npm run cli -- parked <wabaId> [--max <n>] [target]

Lists the messages parked now for a client (their parked copies in the table), oldest first: the order a release
sends them in. --max (default 100) limits how many are printed; the count is always complete.

${TARGET_HELP}`,
  client: `Usage: npm run cli -- client reset <wabaId> [--reason <text>] [--json] [target]
       (also: npm run cli -- reset <wabaId> ...)

POSTs /clients/{wabaId}/reset: clears the client's status records (the latest event of each class), so it reads
CONNECTED as if never seen and later events apply normally. The timeline records the reset, who asked (locally
local-operator; against a stack, your IAM principal) and --reason. Use it to undo a status stored from a wrong
event (for example one stamped far in the future before event times were checked). The reset then asks for
a release of the client's parked messages; if that request cannot be queued they go at their next delay hop.

${TARGET_HELP}`,
  message: `Usage: npm run cli -- message <wabaId> <messageId> [target]

Prints GET /messages/{wabaId}/{messageId}: the message's outcome (parked, sent, delivered, read, failed,
dead-lettered), the wamid, the history with times and errors, the send claim and, for an envelope with a fallback,
the fallback's outcome.

${TARGET_HELP}`,
  'cloud-api': `Usage: npm run cli -- cloud-api refuse --phone-number-id <id> [--code <n>]
       npm run cli -- cloud-api accept --phone-number-id <id>
       npm run cli -- cloud-api statuses --phone-number-id <id> (--until sent|delivered|read | --fail <code> | --off) [--waba <wabaId>]

Tells the embedded Cloud API stand-in (npm start without GRAPH_API_BASE_URL) how a phone number behaves.
refuse  sends from the number fail with --code (default 133010, "may mean offboarded"); probes of it fail with 100/33
accept  the number sends and answers probes as a connected coexistence number (the default)
statuses  after each accepted message the stand-in posts Meta's status webhooks to the pipeline, signed: sent,
        delivered, read up to --until, or sent then failed with --fail (131047: the 24-hour window closed; templates
        still go through); --off stops them. The WABA is --waba, else the one in the relay's callback data`,
  'dead-letters': `Usage: npm run cli -- dead-letters list [filters] [--max <n>] [target]
       npm run cli -- dead-letters redrive [filters] [--max <n>] [--dry-run] [target]

list     prints each dead letter: reason, message id, WABA, when it was dead-lettered, detail (messages stay)
redrive  sends the envelope of each matching dead letter back to the outbound queue and removes the dead letter;
         invalid-envelope entries have no envelope to send and are left in place. --dry-run prints what would
         move and changes nothing.

Filters (all must match):
  --reason <reason>    ${DEAD_LETTER_REASONS.join(', ')}
  --waba <wabaId>      the client's WABA
  --older-than <age>   dead-lettered at least this long ago (e.g. 30s, 15m, 2h, 7d)
  --newer-than <age>   dead-lettered less than this long ago
--max (default 1000) bounds how many dead letters are read.

${TARGET_HELP}`,
  events: `Usage: npm run cli -- events tail [--type <type>] [--waba <wabaId>] [--max <n>] [--url <url>]

Long-polls the local queue subscribed to the relay-events topic (relay-events-tail) and prints one line per event:
  <time> <type> waba=<wabaId> [message=<id>] [wamid=<wamid>] <detail> id=<event id>
--type keeps one event type (${RELAY_EVENT_TYPES.join(', ')}),
--waba one client; --max stops after that many printed events. Ctrl-C stops. Events are taken off the tail queue as
they are read: run one tail at a time. Against a stack, subscribe a queue of your own (docs/relay-events.md).`,
  inbound: `Usage: npm run cli -- inbound tail [--max <n>] [--follow] [target]

Prints the events waiting on the inbound-events queue (every change of every webhook, forwarded for the partner
platform), one line each: received at, field, WABA, event, dedupe id. They stay on the queue. A change too large for
one SQS message (valueRef) is read from its S3 object, whose bytes and sha256 are checked; the line says when the
object is missing or differs. --follow keeps printing new ones until Ctrl-C. --max (default 100) bounds how many are read per pass.

${TARGET_HELP}`,
};
HELP.reset = HELP.client as string;
