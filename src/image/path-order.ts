/**
 * Compares two UTF-8 paths in the order of a layer tree file: segment by
 * segment, each segment by its bytes, so a folder comes right before the
 * folders below it. Plain byte order would put `a-b` between `a` and `a/c`,
 * since `-` sorts before `/`. A walk that visits each folder before its
 * subfolders, taken in byte order of their names, yields this order.
 */
export function comparePathBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const left = a[i]!;
    const right = b[i]!;
    if (left === right) continue;
    // A `/` ends a segment, so it sorts before every byte that continues one.
    if (left === SLASH) return -1;
    if (right === SLASH) return 1;
    return left - right;
  }
  return a.length - b.length;
}

/** Compares two paths in layer tree order (see comparePathBytes). */
export function comparePaths(a: string, b: string): number {
  return comparePathBytes(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const SLASH = 0x2f;
