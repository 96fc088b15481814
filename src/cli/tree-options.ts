import { parseArgs, type ParseArgsConfig } from "node:util";

import { parseServeOptions, SERVE_PARSE_OPTIONS, type ServeOptions } from "./serve-options.js";
import { UsageError } from "./usage-error.js";

export type CommandOptionTable = NonNullable<ParseArgsConfig["options"]>;

/** Options of `regdav serve` that only configure its WebDAV server. */
const SERVE_ONLY_OPTIONS = new Set(["listen", "dav-user", "dav-password-file", "tls-cert", "tls-key"]);

/** The log level of the tree commands: info lines would mix with their output on a terminal. */
const TREE_COMMAND_LOG_LEVEL = "warn";

/** Help text for the options that every tree command shares with `regdav serve`. */
export const TREE_OPTIONS_HELP = `Registry and cache options, as for regdav serve:
  --registry NAME             registry listed by \`regdav ls /\`; repeatable (default docker.io)
  --source NAME=PATH          show an OCI layout folder, an OCI archive or a docker save
                              archive as the root folder NAME; repeatable
  --insecure-registry NAME    use plain HTTP, or HTTPS without certificate checks, for NAME;
                              repeatable. Loopback registries fall back to HTTP on their own.
  --platform OS/ARCH[/VARIANT]
                              platform picked from a multi-platform tag (default linux/amd64)
  --cache-dir DIR             where blobs and layer indexes are kept, shared with regdav serve
                              (default $XDG_CACHE_HOME/regdav or ~/.cache/regdav)
  --log-level LEVEL           debug, info, warn or error (default warn)
  Other options of regdav serve that choose registries, credentials or the cache work too.
`;

export interface TreeCommandArguments {
  /** The command's own options and its positionals, for the command's parseArgs call. */
  commandArgs: string[];
  /** The registry, cache and log options, parsed as `regdav serve` parses them. */
  treeOptions: ServeOptions;
}

/**
 * Splits a tree command's arguments into the command's own options (given
 * by `commandOptions`) and the options shared with `regdav serve`, which are
 * parsed by parseServeOptions so that both commands read them alike. Throws
 * UsageError for an unknown option or an option of the WebDAV server.
 */
export function splitTreeArguments(
  args: readonly string[],
  commandOptions: CommandOptionTable,
): TreeCommandArguments {
  const { tokens } = parseArgs({
    args: [...args],
    options: { ...SERVE_PARSE_OPTIONS, ...commandOptions },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });

  const commandIndexes = new Set<number>();
  const treeArgs: string[] = [];
  for (const token of tokens) {
    if (token.kind !== "option") {
      commandIndexes.add(token.index);
      continue;
    }
    if (token.name in commandOptions) {
      commandIndexes.add(token.index);
      if (separateValue(token)) commandIndexes.add(token.index + 1);
      continue;
    }
    if (SERVE_ONLY_OPTIONS.has(token.name)) {
      throw new UsageError(`${token.rawName} is an option of regdav serve only`);
    }
    treeArgs.push(...args.slice(token.index, token.index + (separateValue(token) ? 2 : 1)));
  }

  const commandArgs = [...commandIndexes].sort((a, b) => a - b).map((index) => args[index]!);
  const treeOptions = parseServeOptions(["--log-level", TREE_COMMAND_LOG_LEVEL, ...treeArgs]);
  return { commandArgs, treeOptions };
}

function separateValue(token: { value?: string | undefined; inlineValue?: boolean | undefined }) {
  return token.value !== undefined && !token.inlineValue;
}

/** Tests whether the arguments ask for help: `-h` or `--help` before any `--`. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  const options = end === -1 ? args : args.slice(0, end);
  return options.includes("-h") || options.includes("--help");
}
