import type { BlobDescriptor } from "../source/image-source.js";

/**
 * Returns the name of a layer in `layers/`: its position (1 is the base layer) and
 * the first 12 hex digits of its digest, such as `1-82133946481a`. The raw
 * blob adds an extension from its media type, such as `.tar.gz`.
 */
export function layerFolderName(position: number, descriptor: BlobDescriptor): string {
  const hex = descriptor.digest.split(":")[1] ?? descriptor.digest;
  return `${position}-${hex.slice(0, 12)}`;
}

export function layerFileName(position: number, descriptor: BlobDescriptor): string {
  return layerFolderName(position, descriptor) + extensionFor(descriptor.mediaType);
}

/** Returns a file extension for a blob's media type, or `.bin` for an unknown type. */
export function extensionFor(mediaType: string | undefined): string {
  if (!mediaType) return ".bin";
  if (/[.+]gzip$/.test(mediaType)) return ".tar.gz";
  if (/[.+]zstd$/.test(mediaType)) return ".tar.zst";
  if (/[.]tar$/.test(mediaType)) return ".tar";
  if (/[+/]json$/.test(mediaType)) return ".json";
  return ".bin";
}
