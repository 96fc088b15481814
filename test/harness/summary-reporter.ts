import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one closing line, `N passed, N failed, N skipped`, after vitest's
 * own summary, in the plain form that CI reads to tell a run that executed
 * tests from one that executed none. A test file whose setup or hooks
 * failed, so that its remaining tests never ran, adds `N files failed`.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    let failedFiles = 0;
    for (const module of testModules) {
      if (module.state() === "failed" || module.errors().length > 0) failedFiles += 1;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed += 1;
        else if (state === "failed") counts.failed += 1;
        else counts.skipped += 1;
      }
    }
    const files = failedFiles > 0 ? `, ${failedFiles} files failed` : "";
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${files}\n`);
  }
}
