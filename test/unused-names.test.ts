import { join, relative } from "node:path";

import ts from "typescript";
import { expect, it } from "vitest";

import { repoRoot } from "./harness/tools.js";

/**
 * Compiles src/ with tsconfig.json plus noUnusedLocals and
 * noUnusedParameters, which the build leaves off, and expects no
 * diagnostics. Names that nothing reads mislead readers into looking for
 * their use.
 */
it("src has no unused names", () => {
  const configPath = join(repoRoot, "tsconfig.json");
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  expect(error).toBeUndefined();

  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, repoRoot);
  const strictness = { noUnusedLocals: true, noUnusedParameters: true };
  const options = { ...parsed.options, ...strictness, noEmit: true };
  const program = ts.createProgram(parsed.fileNames, options);

  const found = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    if (!diagnostic.file || diagnostic.start === undefined) return text;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `${relative(repoRoot, diagnostic.file.fileName)}:${line + 1}: ${text}`;
  });
  expect(found).toEqual([]);
});
