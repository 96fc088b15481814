/** One subcommand of `regdav`, as listed in the dispatch table of main.ts. */
export interface Command {
  /** One line for `regdav --help`. */
  readonly summary: string;
  /**
   * Runs the command with the arguments after its name. Returns the exit
   * code, or undefined for a command that keeps running, such as serve.
   */
  run(args: string[]): Promise<number | undefined>;
}
