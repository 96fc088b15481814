import { log } from "../log.js";
import { version } from "../version.js";
import { catCommand } from "./commands/cat.js";
import type { Command } from "./commands/command.js";
import { cpCommand } from "./commands/cp.js";
import { findCommand } from "./commands/find.js";
import { lsCommand } from "./commands/ls.js";
import { mountCommand } from "./mount.js";
import { exitCodeOf, messageOf } from "./exit-codes.js";
import { serve } from "./serve.js";
import { parseServeOptions, SERVE_HELP } from "./serve-options.js";
import { UsageError } from "./usage-error.js";

/** The subcommands by name, in the order `regdav --help` lists them. */
const COMMANDS: Record<string, Command> = {
  serve: { summary: "serve registries as a read-only WebDAV share (regdav serve --help)", run: runServe },
  ls: lsCommand,
  cat: catCommand,
  find: findCommand,
  cp: cpCommand,
  mount: mountCommand,
};

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const commands = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}${command.summary}\n`);
  return `Usage: regdav COMMAND [options]

Browse container images in registries without pulling them.

Commands:
${commands.join("")}
Options:
  -h, --help       show this help
  -V, --version    print the version
`;
}

/** Runs the command line and returns the process exit code; serve keeps running. */
export async function main(args: string[]): Promise<number | undefined> {
  const [command, ...rest] = args;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(helpText());
    return command === undefined ? 2 : 0;
  }
  if (command === "-V" || command === "--version") {
    process.stdout.write(version + "\n");
    return 0;
  }
  const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (handler) return handler.run(rest);
  throw new UsageError(`unknown command ${JSON.stringify(command)}; see regdav --help`);
}

async function runServe(args: string[]): Promise<number | undefined> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const server = await serve(parseServeOptions(args));
  stopOnSignals(server);
  keepServingAfterStrayErrors();
  return undefined;
}

/**
 * Stops on SIGTERM or SIGINT: the listener closes at once, requests in
 * flight may finish for up to 5 s, and then the process exits with 0.
 */
function stopOnSignals(server: import("node:http").Server) {
  const stop = (signal: string) => {
    log.info("regdav stopping", { signal });
    server.close(() => process.exit(0));
    // A keep-alive connection whose request finishes later becomes idle and
    // would keep close() waiting, so idle connections are closed until the end.
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

/**
 * Logs an error that escaped every request handler instead of letting it end
 * the process, so one bad request or a fault in a dependency's callback does
 * not stop the share for everyone else. Each request's own errors are
 * handled where they happen; this is the last line.
 */
function keepServingAfterStrayErrors() {
  process.on("uncaughtException", (error) => {
    log.error("unexpected error outside a request, still serving", { error: describe(error) });
  });
  process.on("unhandledRejection", (reason) => {
    log.error("unhandled promise rejection, still serving", { error: describe(reason) });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Prints an error as one line and returns its exit code: 1 not found, 2
 * usage, 3 registry failure, 4 anything else (see exit-codes.ts).
 */
export function reportFailure(error: unknown): number {
  process.stderr.write(`regdav: ${messageOf(error)}\n`);
  return exitCodeOf(error);
}
