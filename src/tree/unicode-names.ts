import { isNotFound } from "../errors.js";
import type { FolderNode, TreeNode } from "./tree-node.js";

/**
 * Finds a child by name, and when no child has that exact name, by the
 * name's NFC and then its NFD form. macOS clients send names decomposed
 * (`e` + U+0301) while tar files from Linux usually store them precomposed
 * (`é`), and the reverse happens too, so a lookup by exact name alone would
 * miss files that a listing shows. An exact match always wins.
 *
 * A folder may report a missing child by returning undefined or by throwing
 * NOT_FOUND; both lead to the next form, and the first form's error is
 * thrown when no form matches.
 */
export async function findChild(folder: FolderNode, name: string): Promise<TreeNode | undefined> {
  const alternatives = alternativeForms(name);
  if (alternatives.length === 0) return folder.child(name);

  let firstError: unknown;
  for (const candidate of [name, ...alternatives]) {
    try {
      const child = await folder.child(candidate);
      if (child) return child;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      firstError ??= error;
    }
  }
  if (firstError !== undefined) throw firstError;
  return undefined;
}

/** Returns the NFC and NFD forms of `name` that differ from it; none for ASCII names. */
function alternativeForms(name: string): string[] {
  // Printable ASCII has no other normal form, which keeps the common case to one lookup.
  if (/^[\x20-\x7e]*$/.test(name)) return [];
  const forms = [name.normalize("NFC"), name.normalize("NFD")];
  return [...new Set(forms)].filter((form) => form !== name);
}
