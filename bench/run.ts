/**
 * `npm run bench` prints one table; `-- --json` prints JSON; `-- --check` exits 1 when a figure misses its budget.
 * `-- --quick` runs tiny inputs (what `npm test` does) to check the code still works.
 * `-- --scale[=<clients>/<messages>]` runs only the scale run through the local pipeline (bench/scale.ts; default
 * 10000/100000, or BENCH_SCALE); it has no budgets and is never part of `--check` or `npm test`.
 */
import { checkBudgets, runBench } from './index.js';
import { renderReport } from './report.js';
import { FULL_SCALE, parseScaleSizes, renderScale, scaleBench } from './scale.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const args = new Set(process.argv.slice(2));
const scaleArg = [...args].find((a) => a === '--scale' || a.startsWith('--scale='));
for (const a of args) {
  if (![...['--json', '--check', '--quick', '--help'], scaleArg].includes(a)) {
    console.error(`unknown option ${a}; use --json, --check, --quick, --scale[=<clients>/<messages>]`);
    process.exit(2);
  }
}
if (args.has('--help')) {
  console.log('npm run bench [-- --json] [-- --check] [-- --quick]\nnpm run bench -- --scale[=<clients>/<messages>] [--json]   (default 10000/100000, or BENCH_SCALE)');
  process.exit(0);
}
if (scaleArg) {
  const text = scaleArg.includes('=') ? scaleArg.slice('--scale='.length) : process.env.BENCH_SCALE;
  const sizes = text ? parseScaleSizes(text) : FULL_SCALE;
  if (!sizes || args.has('--check') || args.has('--quick')) {
    console.error('--scale takes <clients>/<messages> (at least 10 clients, a message each) and runs alone: not with --check or --quick');
    process.exit(2);
  }
  const result = await scaleBench(sizes, { log: (l) => console.error(l) });
  console.log(args.has('--json') ? JSON.stringify({ scale: result }, null, 2) : renderScale(result));
  process.exit(result.lost === 0 && result.duplicates === 0 ? 0 : 1);
}

const report = await runBench({ quick: args.has('--quick'), log: args.has('--json') ? () => undefined : (l) => console.error(l) });
const budgets = checkBudgets(report);
if (args.has('--json')) {
  console.log(JSON.stringify({ ...report, budgets }, null, 2));
} else {
  console.log(renderReport(report, budgets));
}
if (args.has('--check') && budgets.some((b) => !b.ok)) process.exitCode = 1;
