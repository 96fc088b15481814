/**
 * Rules for one path segment of the share. The request path decoder and the
 * folder listings apply the same rules, so a listing never shows a name that
 * a request for it would be rejected for.
 */

/** Maximum length of a segment, in UTF-8 bytes, which is also the limit of Linux file names. */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Returns why `name` cannot be a decoded path segment of the share, or
 * undefined when it can.
 *
 * `.` and `..` would step out of the folder they name. A `/` would reach
 * the tree as two segments. `\` is a path separator on Windows, and
 * webdav-server 2.6.3, which serves the litmus scratch folder, splits paths
 * at it too. Control characters cannot appear in XML 1.0 and would corrupt a
 * PROPFIND response.
 */
export function segmentProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name === "." || name === "..") return "is a dot segment";
  if (name.includes("/")) return "contains an encoded slash (%2F)";
  if (name.includes("\\")) return "contains a backslash";
  if (/\p{Cc}/u.test(name)) return "contains a control character";
  if (/\p{Cs}/u.test(name)) return "contains an unpaired UTF-16 surrogate";
  if (Buffer.byteLength(name) > MAX_SEGMENT_BYTES) {
    return `is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

export function isServableName(name: string): boolean {
  return segmentProblem(name) === undefined;
}
