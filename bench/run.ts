/**
 * `npm run bench` prints one table; `-- --json` prints JSON; `-- --check` exits 1 when a figure misses its budget.
 * `-- --quick` runs tiny inputs (what `npm test` does) to check the code still works.
 */
import { checkBudgets, runBench } from './index.js';
import { renderReport } from './report.js';

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

const report = await runBench({ quick: args.has('--quick'), log: args.has('--json') ? () => undefined : (l) => console.error(l) });
const budgets = checkBudgets(report);
if (args.has('--json')) {
  console.log(JSON.stringify({ ...report, budgets }, null, 2));
} else {
  console.log(renderReport(report, budgets));
}
if (args.has('--check') && budgets.some((b) => !b.ok)) process.exitCode = 1;
