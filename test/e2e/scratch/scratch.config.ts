import { defineConfig } from "vitest/config";
export default defineConfig({
  root: "/work/main",
  test: { include: ["test/e2e/scratch/**/*.scratch.ts"], testTimeout: 3_600_000, hookTimeout: 120_000, pool: "forks" },
});
