import { parseArgs } from "node:util";

import type { NodeInfo } from "../../tree/virtual-tree.js";
import { runInTree, type TreeSession } from "../tree-session.js";
import { joinDisplay } from "../tree-path.js";
import { messageOf } from "../exit-codes.js";
import { splitTreeArguments, TREE_OPTIONS_HELP, wantsHelp } from "../tree-options.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";
import { nodeJson, type NodeJson } from "./node-json.js";

const HELP = `Usage: regdav ls [options] [PATH]

Lists a folder of the tree, or names a file. PATH is a tree path
(/docker.io/library/debian/_tags/bookworm/rootfs/etc) or an image reference,
optionally followed by :/ and a path in its root filesystem (debian:bookworm:/etc).
The default PATH is /. Names are sorted.

Options:
  -l, --long                  one line per entry: type (d folder, - file), size in bytes,
                              modification time (UTC) and name
  -R, --recursive             list every folder below PATH too
  --json                      print one JSON document: the node, with "entries" for a folder
  -h, --help                  show this help

${TREE_OPTIONS_HELP}`;

const OPTIONS = {
  long: { type: "boolean", short: "l", default: false },
  recursive: { type: "boolean", short: "R", default: false },
  json: { type: "boolean", default: false },
} as const;

interface ListOptions {
  long: boolean;
  recursive: boolean;
}

export const lsCommand: Command = {
  summary: "list a folder of the tree, or an image's files (regdav ls --help)",
  run: async (args) => {
    if (wantsHelp(args)) {
      process.stdout.write(HELP);
      return 0;
    }
    const { commandArgs, treeOptions } = splitTreeArguments(args, OPTIONS);
    const { values, positionals } = parseArgs({ args: commandArgs, options: OPTIONS, allowPositionals: true });
    if (positionals.length > 1) throw new UsageError("regdav ls takes one PATH; see regdav ls --help");

    return runInTree(treeOptions, async (session) => {
      const location = session.locate(positionals[0] ?? "/");
      const info = await session.stat(location);
      if (values.json) {
        const document = await describeJson(session, location.segments, info, values.recursive);
        await session.output.write(JSON.stringify(document, null, 2) + "\n");
      } else if (info.type === "file") {
        await session.output.write(formatLines([{ ...info, name: location.display }], values)[0] + "\n");
      } else {
        await listText(session, location.segments, location.display, values, true);
      }
      return session.exitCode;
    });
  },
};

/** Prints a folder's entries, and with -R each subfolder's after a `PATH:` heading, as GNU ls does. */
async function listText(
  session: TreeSession,
  segments: readonly string[],
  display: string,
  options: ListOptions,
  first: boolean,
): Promise<void> {
  let entries: NodeInfo[];
  try {
    entries = await session.list(segments);
  } catch (error) {
    if (first) throw error;
    session.report(error);
    return;
  }

  const heading = options.recursive ? `${first ? "" : "\n"}${display}:\n` : "";
  const lines = formatLines(entries, options);
  await session.output.write(heading + lines.map((line) => line + "\n").join(""));
  if (!options.recursive) return;

  for (const entry of entries) {
    if (entry.type !== "directory") continue;
    await listText(session, [...segments, entry.name], joinDisplay(display, entry.name), options, false);
  }
}

/** Formats entries as names, or for -l as lines whose columns line up. */
export function formatLines(entries: readonly NodeInfo[], options: Pick<ListOptions, "long">): string[] {
  if (!options.long) return entries.map((entry) => entry.name);
  const sizeWidth = Math.max(1, ...entries.map((entry) => String(entry.size).length));
  return entries.map((entry) => {
    const type = entry.type === "directory" ? "d" : "-";
    const size = String(entry.size).padStart(sizeWidth);
    return `${type} ${size} ${formatTime(entry.modified)} ${entry.name}`;
  });
}

/** Formats a time as ISO 8601 in UTC to the second: `2024-01-01T00:00:00Z`. */
export function formatTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Builds the JSON document of a node. A folder gets its entries, nested with -R. */
async function describeJson(
  session: TreeSession,
  segments: readonly string[],
  info: NodeInfo,
  recursive: boolean,
): Promise<NodeJson> {
  const node = nodeJson(segments, info);
  if (info.type !== "directory") return node;
  const children = await session.list(segments);
  node.entries = [];
  for (const child of children) {
    const childSegments = [...segments, child.name];
    if (!recursive || child.type !== "directory") {
      node.entries.push(nodeJson(childSegments, child));
      continue;
    }
    node.entries.push(await describeChildJson(session, childSegments, child));
  }
  return node;
}

/** Describes a subfolder for -R. A folder that cannot be listed gets "error" in place of "entries". */
async function describeChildJson(session: TreeSession, segments: string[], info: NodeInfo): Promise<NodeJson> {
  try {
    return await describeJson(session, segments, info, true);
  } catch (error) {
    session.report(error);
    return { ...nodeJson(segments, info), error: messageOf(error) };
  }
}
