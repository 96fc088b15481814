/**
 * A table of contents that cannot be used: missing, malformed, not matching
 * its annotation, or with entries whose bytes could not be verified. The
 * layer store logs the reason and indexes the layer with the ordinary pass.
 */
export class TocUnusableError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = "TocUnusableError";
  }
}
