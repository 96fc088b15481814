import { defineConfig } from "vitest/config";
export default defineConfig({
  root: "/work/main",
  test: { include: ["test/faults/scratch/**/*.scratch.ts"], testTimeout: 600_000, hookTimeout: 120_000, pool: "forks" },
});
