/**
 * Tar type flags of the entry type names that the eStargz and
 * zstd:chunked TOCs and the SOCI zTOC share, for LayerIndexBuilder,
 * which reads tar type flags.
 */
export const TYPEFLAG_OF_TOC_TYPE = {
  reg: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
} as const;
