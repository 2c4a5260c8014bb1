import { SDK_FLOOR_NAME } from './bundles.js';
import { PRICES } from './bill.js';
import type { BenchReport, Budget } from './index.js';

/** The printed report is at most this wide. */
export const REPORT_WIDTH = 120;

/** Columns padded to their widest cell, two spaces apart. */
const table = (data: readonly (readonly string[])[]): string => {
  const widths = (data[0] ?? []).map((_, i) => Math.max(...data.map((row) => (row[i] ?? '').length)));
  return data.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
};

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
const ms = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const us = (x: number) => (x >= 10_000 ? ms(x / 1000) : `${x} us`);
const usd = (x: number) => `$${x < 10 ? x.toFixed(2) : x.toFixed(0)}`;

/**
 * The whole report: one small table per area, each with its own columns, so none is wider than {@link REPORT_WIDTH}.
 * A ratio column appears only where the figure has a floor to be compared with.
 */
export const renderReport = (r: BenchReport, budgets: readonly Budget[]): string => {
  const sections: string[] = [];
  sections.push(
    table([
      ['webhook (per request)', 'handler', 'floor: HMAC + JSON.parse', 'ratio'],
      ...r.webhook.map((w) => [`${w.name} (${(w.bytes / 1024).toFixed(w.bytes > 100_000 ? 0 : 1)} KB)`, us(w.handlerMicros), us(w.floorMicros), `${w.ratio}x`]),
    ]),
  );
  const c = r.consumer;
  sections.push(
    table([
      ['consumer (median of rounds: range)', 'throughput', 'floor: receive, post, delete', 'of floor'],
      [
        `${c.messages} messages x ${c.rounds}, 10 clients, 4 pollers`,
        `${c.consumerPerSecond} msg/s: ${c.consumerRange.join('-')}`,
        `${c.floorPerSecond} msg/s: ${c.floorRange.join('-')}`,
        `${c.shareOfFloor}`,
      ],
      [
        'exactly-once floor: + batch read, claim, confirm',
        '',
        `${c.exactlyOnceFloorPerSecond} msg/s: ${c.exactlyOnceFloorRange.join('-')}`,
        `${c.shareOfExactlyOnceFloor}`,
      ],
    ]),
  );
  sections.push(
    table([
      ['requests per message, batch of 10', 'DynamoDB reads', 'writes', 'SQS (with event source)', 'status reads / client'],
      ...r.requests.map((q) => [
        q.scenario,
        q.dynamoReadsPerMessage.toFixed(2),
        q.dynamoWritesPerMessage.toFixed(2),
        `${q.sqsRequestsPerMessage.toFixed(2)} (${q.sqsRequestsPerMessageWithEventSource.toFixed(2)})`,
        String(q.statusReadsPerDistinctClient),
      ]),
    ]),
  );
  const floor = r.bundles.find((b) => b.fn === SDK_FLOOR_NAME);
  sections.push(
    table([
      ['bundle', 'minified', 'cold init', 'with source maps', 'floor: SDK clients alone', 'over the floor'],
      ...r.bundles
        .filter((b) => b !== floor)
        .map((b) => [
          b.fn,
          kb(b.bytes),
          ms(b.coldInitMs),
          ms(b.coldInitWithSourceMapsMs),
          floor ? `${kb(floor.bytes)}, ${ms(floor.coldInitMs)} (${ms(floor.coldInitWithSourceMapsMs)})` : '',
          floor ? `+${kb(b.bytes - floor.bytes)}, +${ms(b.coldInitMs - floor.coldInitMs)}` : '',
        ]),
    ]),
  );
  const short = (m: string) => m.replace(/^@aws-sdk\//, 'sdk/').replace(/^@smithy\//, 'smithy/').replace(/^@aws-lambda-powertools\//, 'pt/');
  sections.push(
    [
      'largest in each bundle (minified, from the esbuild metafile)',
      ...r.bundles.filter((b) => b !== floor).map((b) => `  ${b.fn.padEnd(9)} ${b.largest.map((m) => `${short(m.module)} ${kb(m.bytes)}`).join(', ')}`),
    ].join('\n'),
  );
  const rel = r.release;
  const res = rel.resume;
  const ph = rel.parkHour;
  sections.push(
    table([
      ['release (real webhook, consumer, releaser)', 'figure'],
      [`resume: RECONNECTED answered -> first call, ${res.episodes} episodes`, `p50 ${ms(res.p50Ms)}, p99 ${ms(res.p99Ms)} (max ${ms(res.maxMs)})`],
      ...rel.drain.flatMap((d) => [
        [
          `drain: ${d.parked} parked, ${d.recipients} recipients, ${d.releasers} releaser${d.releasers > 1 ? 's' : ''}`,
          `${d.perSecond} msg/s of ${d.rateLimit} (${Math.round((d.perSecond / d.rateLimit) * 100)}%), most in any 1 s: ${d.maxInAnySecond}, ${d.seconds} s`,
        ],
        ['  most in any 1 s where the pace is made', `pacer slots ${d.maxInAnySecondSlots}, call starts ${d.maxInAnySecondStarts}`],
        ['  call start -> stand-in', `p50 ${ms(d.transitMs.p50)}, p99 ${ms(d.transitMs.p99)}, max ${ms(d.transitMs.max)}`],
        [`  order, ${d.midDrain} enqueued mid-drain`, `${d.recipientsInOrder} of ${d.recipients} recipients in enqueue order`],
      ]),
      [
        `SQS requests per parked message-hour (${ph.schedule}: ${ph.hopsPerHour} hops/h)`,
        `${ph.alone.sqsPerParkedHour} alone, ${ph.tenPerBatch.sqsPerParkedHour} ten per batch (per hop ${ph.alone.perHop.sqsRequests}, ${ph.tenPerBatch.perHop.sqsRequests})`,
      ],
    ]),
  );
  sections.push(
    table([
      ['schedule, delay loop alone (a lost release)', 'resume p50', 'p99', 'SQS / parked msg-hour', 'hops'],
      ...r.schedule.map((s) => [s.schedule, `${s.p50ResumeSeconds} s`, `${s.p99ResumeSeconds} s`, String(s.sqsRequestsPerParkedMessageHour), String(s.meanHops)]),
    ]),
  );
  const lat = r.latency;
  sections.push(
    table([
      [`per instance, Cloud API answering in ${lat.latencyMs} ms`, 'msg/s', 'floor', `instances for ${lat.targetPerSecond} msg/s`],
      ...lat.rates.map((x) => [
        `${x.fn}: ${x.setup}`,
        String(x.perInstance),
        x.floorPerInstance !== null ? String(x.floorPerInstance) : (x.cap ?? ''),
        `ceil(${lat.targetPerSecond} / ${x.perInstance}) = ${x.concurrencyFor100}`,
      ]),
    ]),
  );
  const h = r.health;
  sections.push(
    table([
      ['health (virtual clock)', 'refused calls / episode', 'worst', 'probes'],
      [`${h.clients} clients, ${h.messages} messages, ${h.episodes} offboardings`, String(h.refusedPerEpisode), String(h.maxRefusedInOneEpisode), `${h.probes} (${h.probesPerHeldHour} / held client-hour)`],
      ['  without holds', String(h.withoutHolds.refusedPerEpisode), String(h.withoutHolds.maxRefusedInOneEpisode), ''],
    ]),
  );
  sections.push(
    [
      table([
        ['AWS bill, USD per million', 'SQS', 'SNS', 'DynamoDB', 'Lambda', 'API Gateway', 'total'],
        ...rel.bill.map((b) => [b.what, usd(b.sqs), usd(b.sns), usd(b.dynamo), usd(b.lambda), usd(b.api), usd(b.total)]),
      ]),
      `prices (us-east-1 list, on-demand): SQS $${PRICES.sqsPerMillionRequests}/M requests; DynamoDB $${PRICES.dynamoPerMillionWriteUnits}/M WRU, ` +
        `$${PRICES.dynamoPerMillionReadUnits}/M RRU;`,
      `Lambda $${PRICES.lambdaPerMillionRequests}/M requests, $${PRICES.lambdaPerGbSecondArm64}/GB-s (arm64); HTTP API $${PRICES.httpApiPerMillionRequests}/M requests;`,
      `SNS $${PRICES.snsPerMillionRequests}/M publish requests (64 KB each); not in these rows: the tally's counter writes (docs/performance.md)`,
    ].join('\n'),
  );
  sections.push(
    table([['budget', 'value', 'limit', ''], ...budgets.map((b) => [b.name, String(b.value), String(b.limit), b.ok ? 'ok' : 'MISSED'])]),
  );
  return sections.join('\n\n');
};
