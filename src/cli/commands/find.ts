import { parseArgs } from "node:util";

import type { NodeInfo } from "../../tree/virtual-tree.js";
import { compileNamePattern } from "../name-pattern.js";
import { joinDisplay } from "../tree-path.js";
import { runInTree, type TreeSession } from "../tree-session.js";
import { splitTreeArguments, TREE_OPTIONS_HELP, wantsHelp } from "../tree-options.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";
import { nodeJson } from "./node-json.js";

const HELP = `Usage: regdav find PATH [-name PATTERN] [-type f|d] [-maxdepth N] [-print0] [--json] [options]

Prints PATH and every file and folder below it that matches the tests, one
per line, depth first with names sorted. Printed paths start with PATH as
given, so each line can be passed to regdav cat or regdav ls; for an image
reference without :/ they start with the image's tree path.

Tests and output:
  -name PATTERN               the name matches a shell pattern (*, ?, [a-z]); quote it
  -type f|d                   files (f) or folders (d) only
  -maxdepth N                 descend at most N levels below PATH (0: PATH only)
  -print0                     end each path with NUL instead of a newline
  --json                      print one JSON object per line: path (the tree path),
                              name, type, size, modified
  -h, --help                  show this help

${TREE_OPTIONS_HELP}`;

const OPTIONS = {
  name: { type: "string" },
  type: { type: "string" },
  maxdepth: { type: "string" },
  print0: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

/** find's single-dash tests, rewritten to the `--name` form that parseArgs reads. */
const FIND_TESTS = new Map([
  ["-name", true],
  ["-type", true],
  ["-maxdepth", true],
  ["-print0", false],
]);

interface Criteria {
  name: RegExp | undefined;
  type: NodeInfo["type"] | undefined;
  maxDepth: number;
  print: (session: TreeSession, segments: readonly string[], display: string, info: NodeInfo) => Promise<void>;
}

export const findCommand: Command = {
  summary: "list files and folders below a path that match a name or type (regdav find --help)",
  run: async (args) => {
    if (wantsHelp(args)) {
      process.stdout.write(HELP);
      return 0;
    }
    const { commandArgs, treeOptions } = splitTreeArguments(rewriteFindTests(args), OPTIONS);
    const { values, positionals } = parseArgs({ args: commandArgs, options: OPTIONS, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError("regdav find takes one PATH; see regdav find --help");
    const criteria = parseCriteria(values);

    return runInTree(treeOptions, async (session) => {
      const location = session.locate(positionals[0]!);
      const info = await session.stat(location);
      await visit(session, location.segments, location.display, info, 0, criteria);
      return session.exitCode;
    });
  },
};

/** Rewrites `-name X` to `--name X` and so on, leaving values and anything after `--` alone. */
export function rewriteFindTests(args: readonly string[]): string[] {
  const rewritten: string[] = [];
  for (let position = 0; position < args.length; position++) {
    const arg = args[position]!;
    if (arg === "--") {
      rewritten.push(...args.slice(position));
      break;
    }
    const takesValue = FIND_TESTS.get(arg);
    if (takesValue === undefined) {
      rewritten.push(arg);
      continue;
    }
    rewritten.push("-" + arg);
    if (takesValue && position + 1 < args.length) rewritten.push(args[++position]!);
  }
  return rewritten;
}

function parseCriteria(values: { name?: string; type?: string; maxdepth?: string; print0: boolean; json: boolean }): Criteria {
  if (values.type !== undefined && values.type !== "f" && values.type !== "d") {
    throw new UsageError(`invalid -type ${JSON.stringify(values.type)}: use f for files or d for folders`);
  }
  if (values.json && values.print0) throw new UsageError("--json and -print0 cannot be combined");

  const terminator = values.print0 ? "\0" : "\n";
  return {
    name: values.name === undefined ? undefined : compileNamePattern(values.name),
    type: typeOf(values.type),
    maxDepth: parseMaxDepth(values.maxdepth),
    print: values.json
      ? (session, segments, _display, info) => session.output.write(JSON.stringify(nodeJson(segments, info)) + "\n")
      : (session, _segments, display) => session.output.write(display + terminator),
  };
}

function typeOf(test: string | undefined): NodeInfo["type"] | undefined {
  if (test === undefined) return undefined;
  return test === "f" ? "file" : "directory";
}

function parseMaxDepth(text: string | undefined): number {
  if (text === undefined) return Infinity;
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`invalid -maxdepth ${JSON.stringify(text)}: use a whole number of 0 or more`);
  }
  return Number(text);
}

/** Prints a node when it matches, then visits its children. A child folder that fails is reported and skipped. */
async function visit(
  session: TreeSession,
  segments: readonly string[],
  display: string,
  info: NodeInfo,
  depth: number,
  criteria: Criteria,
): Promise<void> {
  if (matches(info, criteria)) await criteria.print(session, segments, display, info);
  if (info.type !== "directory" || depth >= criteria.maxDepth) return;

  let children: NodeInfo[];
  try {
    children = await session.list(segments);
  } catch (error) {
    if (depth === 0) throw error;
    session.report(error);
    return;
  }
  for (const child of children) {
    await visit(session, [...segments, child.name], joinDisplay(display, child.name), child, depth + 1, criteria);
  }
}

function matches(info: NodeInfo, criteria: Criteria): boolean {
  if (criteria.type !== undefined && info.type !== criteria.type) return false;
  return criteria.name === undefined || criteria.name.test(info.name);
}
