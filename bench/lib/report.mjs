// Turns comparisons into Markdown: the table of medians and ratios that the
// bench prints, and the page it writes to docs/benchmarks.md.
import { formatBytes, formatRatio, formatValue, median } from "./stats.mjs";

/** Returns the Markdown table of medians: one row per alternative of each comparison. */
export function resultsTable(comparisons) {
  const lines = [
    "| measurement | regdav (median) | alternative | alternative (median) | regdav ÷ alternative |",
    "| --- | ---: | --- | ---: | ---: |",
  ];
  for (const comparison of comparisons) {
    const regdavMedian = median(comparison.regdav);
    const regdavCell = `${formatValue(regdavMedian, comparison.unit)} (n=${comparison.regdav.length})`;
    if (comparison.alternatives.length === 0) {
      lines.push(`| ${comparison.title} | ${regdavCell} | - | - | - |`);
      continue;
    }
    comparison.alternatives.forEach((alternative, i) => {
      const alternativeMedian = median(alternative.samples);
      const cells = [
        i === 0 ? comparison.title : "",
        i === 0 ? regdavCell : "",
        alternative.label,
        `${formatValue(alternativeMedian, comparison.unit)} (n=${alternative.samples.length})`,
        formatRatio(regdavMedian, alternativeMedian),
      ];
      lines.push(`| ${cells.join(" | ")} |`);
    });
  }
  return lines.join("\n");
}

/** Returns one line per series with every sample, in run order, for the page's appendix. */
export function samplesList(comparisons) {
  const format = (samples, unit) =>
    samples.map((value) => (unit === "bytes" ? formatBytes(value) : value.toFixed(1))).join(", ");
  const lines = [];
  for (const comparison of comparisons) {
    const unit = comparison.unit === "bytes" ? "" : " (ms)";
    lines.push(`- ${comparison.title}${unit}: regdav ${format(comparison.regdav, comparison.unit)}`);
    for (const alternative of comparison.alternatives) {
      lines.push(`  - ${alternative.label}: ${format(alternative.samples, comparison.unit)}`);
    }
    if (comparison.note) lines.push(`  - ${comparison.note}`);
  }
  return lines.join("\n");
}

/** Returns the Markdown table of the benchmark images. */
export function imagesTable(images) {
  const lines = [
    "| image | layers | compressed | uncompressed tar | tar entries | regular files | last file of the last layer |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const image of images) {
    const cells = [
      `\`${image.repository}:${image.tag}\``,
      image.layers.length,
      `${formatBytes(image.compressedSize)} (${image.compressedSize} B)`,
      `${formatBytes(image.uncompressedSize)} (${image.uncompressedSize} B)`,
      image.entries,
      image.files,
      `\`${image.lastFile}\``,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
