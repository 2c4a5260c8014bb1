/**
 * `npm run cli -- <command>` (package.json): the CLI's entry. The commands live in ./cli/ (one file each; the
 * command line is read in ./cli/index.ts).
 */
import { runCli } from './cli/index.js';

export { formatStatus, runCli } from './cli/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

if (import.meta.url === `file://${process.argv[1]}`) {
  const stopped = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  process.exitCode = await runCli(process.argv.slice(2), process.env, {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    fetch,
    stopped,
  });
  process.exit();
}
