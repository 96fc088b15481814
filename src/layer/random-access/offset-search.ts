/**
 * Returns the index of the last item whose uncompressedOffset is at or
 * before `offset`, or 0 when none is. Among items at the same offset it
 * returns the last one. `items` must be sorted by uncompressedOffset.
 */
export function lastAtOrBefore(
  items: readonly { uncompressedOffset: number }[],
  offset: number,
): number {
  let low = 0;
  let high = items.length - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (items[middle]!.uncompressedOffset <= offset) low = middle;
    else high = middle - 1;
  }
  return low;
}
