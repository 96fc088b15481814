import { stat } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { copyTree } from "../copy-tree.js";
import { runInTree } from "../tree-session.js";
import { splitTreeArguments, TREE_OPTIONS_HELP, wantsHelp } from "../tree-options.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";

const HELP = `Usage: regdav cp [options] PATH DEST

Copies a file, or a folder with everything below it, from the tree to the
local DEST. Folders are always copied whole, so -r is not needed. As with cp,
when DEST is an existing folder the copy goes inside it under PATH's name
(use -T to copy onto DEST itself); otherwise DEST becomes the copy, and its
parent folder must exist. Existing files are overwritten.

Files get the modification time from the image, and mode 0644 (folders 0755)
whatever the image's modes are. Symlinks in the image are copied as what they
point to. Names that are empty, ".", "..", or contain "/" or NUL are skipped
and reported, and cp never follows a symlink found inside DEST, so nothing is
written outside DEST.

Options:
  -r, -R, --recursive         accepted for habit; has no effect
  -T, --no-target-directory   copy onto DEST even when it is an existing folder
  -h, --help                  show this help

${TREE_OPTIONS_HELP}`;

const OPTIONS = {
  recursive: { type: "boolean", short: "r", default: false },
  // cp takes -R as -r. parseArgs needs a long name for it, which the help leaves out.
  R: { type: "boolean", short: "R", default: false },
  "no-target-directory": { type: "boolean", short: "T", default: false },
} as const;

export const cpCommand: Command = {
  summary: "copy a file or folder from the tree to a local path (regdav cp --help)",
  run: async (args) => {
    if (wantsHelp(args)) {
      process.stdout.write(HELP);
      return 0;
    }
    const { commandArgs, treeOptions } = splitTreeArguments(args, OPTIONS);
    const { values, positionals } = parseArgs({ args: commandArgs, options: OPTIONS, allowPositionals: true });
    if (positionals.length !== 2) throw new UsageError("regdav cp takes a PATH and a DEST; see regdav cp --help");
    const [path, destination] = positionals as [string, string];
    if (destination === "") throw new UsageError("DEST is empty");

    return runInTree(treeOptions, async (session) => {
      const location = session.locate(path);
      const info = await session.stat(location);
      const source = { segments: location.segments, display: location.display, info };

      // Like cp: an existing folder receives the copy under PATH's name. The
      // name was typed by the user and normalized, so it is a safe file name.
      const name = location.segments.at(-1);
      const into = !values["no-target-directory"] && name !== undefined && (await isFolder(destination));
      if (into) await copyTree(session, source, join(destination, name), false);
      else await copyTree(session, source, destination, true);
      return session.exitCode;
    });
  },
};

async function isFolder(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() ?? false;
}
