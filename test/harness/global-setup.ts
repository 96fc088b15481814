import { spawnSync } from "node:child_process";

import { repoRoot } from "./tools.js";

/**
 * Vitest global setup: compiles src/ into dist/ once before any test file
 * runs, because the end-to-end tests start bin/regdav, which runs dist/.
 * Throws with the compiler's output when the build fails.
 */
export default function setup(): void {
  const result = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (result.error) {
    throw new Error(`could not run npx tsc -p tsconfig.json: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const output = `${result.stdout}${result.stderr}`.trim();
    throw new Error(`npx tsc -p tsconfig.json failed with exit code ${result.status}:\n${output}`);
  }
}
