/**
 * `npm run bench` prints one table; `-- --json` prints JSON; `-- --check` exits 1 when a figure passes its budget.
 * `-- --quick` runs tiny inputs (what `npm test` does) to check the code still works.
 */
import { SDK_FLOOR_NAME } from './bundles.js';
import { type BenchReport, checkBudgets, runBench } from './index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!['--json', '--check', '--quick', '--help'].includes(a)) {
    console.error(`unknown option ${a}; use --json, --check, --quick`);
    process.exit(2);
  }
}
if (args.has('--help')) {
  console.log('npm run bench [-- --json] [-- --check] [-- --quick]');
  process.exit(0);
}

const rows = (r: BenchReport): string[][] => {
  const out: string[][] = [['area', 'case', 'figure', 'floor / reference', 'ratio']];
  for (const w of r.webhook) {
    out.push(['webhook', `${w.name} (${(w.bytes / 1024).toFixed(w.bytes > 100_000 ? 0 : 1)} KB)`, `${w.handlerMicros} us/request`, `${w.floorMicros} us (HMAC + JSON.parse)`, `${w.ratio}x`]);
  }
  const c = r.consumer;
  out.push(['consumer', `${c.messages} messages, 10 clients, 4 pollers`, `${c.consumerPerSecond} msg/s`, `${c.floorPerSecond} msg/s (receive, post, delete)`, `${c.ratio}x`]);
  for (const q of r.requests) {
    out.push([
      'requests',
      `batch of 10, ${q.scenario}`,
      `DynamoDB ${q.dynamoReadsPerMessage.toFixed(2)} reads + ${q.dynamoWritesPerMessage.toFixed(2)} writes /msg`,
      `SQS ${q.sqsRequestsPerMessage.toFixed(2)} /msg (${q.sqsRequestsPerMessageWithEventSource.toFixed(2)} with event source)`,
      `${q.statusReadsPerDistinctClient} status read/client`,
    ]);
  }
  const floor = r.bundles.find((b) => b.fn === SDK_FLOOR_NAME);
  for (const b of r.bundles.filter((x) => x !== floor)) {
    out.push([
      'bundle',
      b.fn,
      `${(b.bytes / 1024).toFixed(0)} KB minified, ${b.coldInitMs} ms cold init (${b.coldInitWithSourceMapsMs} ms with source maps)`,
      floor ? `${(floor.bytes / 1024).toFixed(0)} KB, ${floor.coldInitMs} ms (${floor.coldInitWithSourceMapsMs}) (AWS SDK clients alone)` : '',
      floor ? `+${((b.bytes - floor.bytes) / 1024).toFixed(0)} KB, +${Math.round((b.coldInitMs - floor.coldInitMs) * 10) / 10} ms` : '',
    ]);
  }
  for (const s of r.schedule) {
    out.push(['schedule', s.schedule, `resume p50 ${s.p50ResumeSeconds} s, p99 ${s.p99ResumeSeconds} s`, `${s.sqsRequestsPerParkedMessageHour} SQS req per parked msg-hour`, `${s.meanHops} hops`]);
  }
  const h = r.health;
  out.push([
    'health',
    `${h.clients} clients, ${h.messages} messages, ${h.episodes} offboardings (${h.episodesUnseen} unseen in time)`,
    `${h.refusedPerEpisode} refused calls / episode (max ${h.maxRefusedInOneEpisode})`,
    `${h.withoutHolds.refusedPerEpisode} without holds (max ${h.withoutHolds.maxRefusedInOneEpisode})`,
    `${h.probes} probes, ${h.probesPerHeldHour} / held client-hour`,
  ]);
  return out;
};

const table = (data: string[][]): string => {
  const widths = data[0]!.map((_, i) => Math.max(...data.map((row) => (row[i] ?? '').length)));
  return data.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
};

const report = await runBench({ quick: args.has('--quick'), log: args.has('--json') ? () => undefined : (l) => console.error(l) });
const budgets = checkBudgets(report);
if (args.has('--json')) {
  console.log(JSON.stringify({ ...report, budgets }, null, 2));
} else {
  console.log(table(rows(report)));
  console.log('\nbudgets');
  console.log(table([['figure', 'value', 'limit', ''], ...budgets.map((b) => [b.name, String(b.value), String(b.limit), b.ok ? 'ok' : 'OVER'])]));
}
if (args.has('--check') && budgets.some((b) => !b.ok)) process.exitCode = 1;
