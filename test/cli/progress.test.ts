import { describe, expect, it } from "vitest";

import { describePasses, formatBytes, formatDuration, ProgressLine } from "../../src/cli/progress.js";

const digestA = "sha256:" + "a".repeat(64);
const digestB = "sha256:" + "b".repeat(64);

describe("describePasses", () => {
  it("shows one pass with bytes, rate and time left", () => {
    const line = describePasses([[digestA, { bytes: 10 * 1048576, size: 40 * 1048576 }]], 0, 2000);
    expect(line).toBe("layer aaaaaaaaaaaa  10.0 MiB / 40.0 MiB  25%  5.0 MiB/s  6s left");
  });

  it("adds up several passes", () => {
    const passes: [string, { bytes: number; size: number | undefined }][] = [
      [digestA, { bytes: 1048576, size: 2 * 1048576 }],
      [digestB, { bytes: 1048576, size: 2 * 1048576 }],
    ];
    expect(describePasses(passes, 0, 1000)).toBe("2 layers  2.0 MiB / 4.0 MiB  50%  2.0 MiB/s  1s left");
  });

  it("leaves out the total of a pass without a size", () => {
    const line = describePasses([[digestA, { bytes: 2048, size: undefined }]], 0, 1000);
    expect(line).toBe("layer aaaaaaaaaaaa  2.0 KiB  2.0 KiB/s");
  });

  it("counts finished passes in the rate", () => {
    const line = describePasses([[digestA, { bytes: 0, size: 1048576 }]], 1048576, 1000);
    expect(line).toContain("1.0 MiB/s");
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [5 * 1073741824, "5.0 GiB"],
  ])("%d is %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe("formatDuration", () => {
  it.each([
    [0.2, "1s"],
    [59, "59s"],
    [185, "3m05s"],
    [3720, "1h02m"],
  ])("%d s is %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe("ProgressLine", () => {
  function recorder() {
    const writes: string[] = [];
    return { writes, terminal: { columns: 200, write: (text: string) => writes.push(text) } };
  }

  it("draws when a pass starts and erases when it ends", () => {
    const { writes, terminal } = recorder();
    const line = new ProgressLine(terminal, () => 0);
    line.update({ digest: digestA, bytes: 0, size: 100, done: false });
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^\r\x1b\[2Klayer aaaaaaaaaaaa {2}0 B \/ 100 B {2}0%/);

    line.update({ digest: digestA, bytes: 100, size: 100, done: true });
    expect(writes.at(-1)).toBe("\r\x1b[2K");
    line.stop();
    expect(writes).toHaveLength(2);
  });

  it("clears only a shown line", () => {
    const { writes, terminal } = recorder();
    const line = new ProgressLine(terminal, () => 0);
    line.clear();
    expect(writes).toHaveLength(0);
  });

  it("cuts the line to the terminal width", () => {
    const writes: string[] = [];
    const line = new ProgressLine({ columns: 20, write: (text: string) => writes.push(text) }, () => 0);
    line.update({ digest: digestA, bytes: 0, size: 100, done: false });
    expect(writes[0]).toBe("\r\x1b[2K" + "layer aaaaaaaaaaaa  0 B / 100 B".slice(0, 19));
    line.stop();
  });
});
