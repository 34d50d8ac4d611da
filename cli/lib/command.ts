/** What every `verity` command module exports; `main.ts` dispatches on `name`. */
export interface Command {
  /** The words that select it, e.g. "policy validate". */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  usage: string;
  /** Runs with the arguments after the command's words; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** A bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
