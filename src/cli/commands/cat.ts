import { parseArgs } from "node:util";

import { runInTree } from "../tree-session.js";
import { splitTreeArguments, TREE_OPTIONS_HELP, wantsHelp } from "../tree-options.js";
import { UsageError } from "../usage-error.js";
import type { Command } from "./command.js";

const HELP = `Usage: regdav cat [options] PATH...

Writes the bytes of each file to stdout, one after another, and nothing else.
PATH is a tree path (/docker.io/library/debian/_tags/bookworm/manifest.json)
or an image reference followed by :/ and a path in its root filesystem
(debian:bookworm:/etc/os-release). When a PATH fails, the error goes to stderr
and the next PATH is written.

Options:
  -h, --help                  show this help

${TREE_OPTIONS_HELP}`;

const OPTIONS = {} as const;

export const catCommand: Command = {
  summary: "write the bytes of files in the tree to stdout (regdav cat --help)",
  run: async (args) => {
    if (wantsHelp(args)) {
      process.stdout.write(HELP);
      return 0;
    }
    const { commandArgs, treeOptions } = splitTreeArguments(args, OPTIONS);
    const { positionals } = parseArgs({ args: commandArgs, options: OPTIONS, allowPositionals: true });
    if (positionals.length === 0) throw new UsageError("regdav cat needs a PATH; see regdav cat --help");

    return runInTree(treeOptions, async (session) => {
      for (const text of positionals) {
        try {
          const stream = await session.read(session.locate(text));
          await session.output.copyFrom(stream);
        } catch (error) {
          if (positionals.length === 1) throw error;
          session.report(error);
        }
      }
      return session.exitCode;
    });
  },
};
