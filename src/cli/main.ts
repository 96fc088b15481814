import { readFileSync } from "node:fs";

import { log } from "../log.js";
import { RegdavError } from "../errors.js";
import { serve } from "./serve.js";
import { parseServeOptions, SERVE_HELP } from "./serve-options.js";
import { UsageError } from "./usage-error.js";

const HELP = `Usage: regdav COMMAND [options]

Browse container images in registries without pulling them.

Commands:
  serve     serve registries as a read-only WebDAV share (regdav serve --help)

Options:
  -h, --help       show this help
  -V, --version    print the version
`;

/** Runs the command line and returns the process exit code; serve keeps running. */
export async function main(args: string[]): Promise<number | undefined> {
  const [command, ...rest] = args;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "-V" || command === "--version") {
    process.stdout.write(readVersion() + "\n");
    return 0;
  }
  if (command === "serve") {
    if (rest.includes("-h") || rest.includes("--help")) {
      process.stdout.write(SERVE_HELP);
      return 0;
    }
    const server = await serve(parseServeOptions(rest));
    stopOnSignals(server);
    return undefined;
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}; see regdav --help`);
}

function stopOnSignals(server: import("node:http").Server) {
  const stop = (signal: string) => {
    log.info("regdav stopping", { signal });
    server.close(() => process.exit(0));
    server.closeIdleConnections?.();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

function readVersion(): string {
  const packageJson = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
}

/** Prints an error as one line and returns its exit code: 2 for usage, 1 otherwise. */
export function reportFailure(error: unknown): number {
  if (error instanceof UsageError || isParseArgsError(error)) {
    process.stderr.write(`regdav: ${(error as Error).message}\n`);
    return 2;
  }
  const message = error instanceof RegdavError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`regdav: ${message}\n`);
  return 1;
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
