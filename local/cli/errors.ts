/** The CLI's two kinds of failure, which decide what it prints and its exit code. */

/** A problem the operator can fix (wrong name, missing output, nothing running): one line, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/**
 * A mistake in the command line: one line, then the command's own help; exit code 2. `brief`: the line already says
 * what was meant ("did you mean ..."), so a pointer to the help follows instead of the help.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    readonly command: string,
    message: string,
    readonly brief = false,
  ) {
    super(message);
  }
}
