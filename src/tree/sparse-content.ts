import type { Readable } from "node:stream";

import {
  ConcatenatedContent,
  zerosPart,
  type ContentPart,
} from "../export/concatenated-content.js";

/**
 * Lays out a GNU sparse file: a zeros part for each hole and a part for
 * each stored segment, which `readStored` opens by its offset among the
 * stored bytes. `segments` are the flat `[offset, length, ...]` pairs of
 * LayerEntry.sparse, which the layer pass checked to be in order and within
 * `size`.
 */
export function sparseContent(
  segments: readonly number[],
  size: number,
  readStored: (storedOffset: number, length: number) => Promise<Readable>,
): ConcatenatedContent {
  const parts: ContentPart[] = [];
  let position = 0;
  let stored = 0;
  for (let index = 0; index + 1 < segments.length; index += 2) {
    const offset = segments[index]!;
    const length = segments[index + 1]!;
    parts.push(zerosPart(offset - position));
    const segmentStart = stored;
    parts.push({
      size: length,
      open: (start, end) => readStored(segmentStart + start, end - start + 1),
    });
    position = offset + length;
    stored += length;
  }
  parts.push(zerosPart(size - position));
  return new ConcatenatedContent(parts);
}
