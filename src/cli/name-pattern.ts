import { UsageError } from "./usage-error.js";

/**
 * Compiles a shell pattern, as `find -name` takes it, into a RegExp that
 * matches a whole name: `*` is any run of characters, `?` one character,
 * `[abc]`, `[a-z]` and `[!abc]` (or `[^abc]`) a set, and `\` takes the next
 * character literally. As in GNU find, `*` and `?` also match a leading `.`.
 * Throws UsageError for an unterminated `[`.
 */
export function compileNamePattern(pattern: string): RegExp {
  let source = "";
  for (let position = 0; position < pattern.length; position++) {
    const character = pattern[position]!;
    if (character === "*") source += "[^]*";
    else if (character === "?") source += "[^]";
    else if (character === "\\") source += escapeLiteral(pattern[++position] ?? "\\");
    else if (character === "[") {
      const end = findSetEnd(pattern, position);
      if (end === -1) throw new UsageError(`invalid -name pattern ${JSON.stringify(pattern)}: "[" has no closing "]"`);
      source += compileSet(pattern.slice(position + 1, end));
      position = end;
    } else source += escapeLiteral(character);
  }
  return new RegExp(`^${source}$`, "u");
}

/** Returns the index of the `]` that closes the set opened at `open`. A `]` first in the set is literal. */
function findSetEnd(pattern: string, open: number): number {
  let position = open + 1;
  if (pattern[position] === "!" || pattern[position] === "^") position++;
  if (pattern[position] === "]") position++;
  for (; position < pattern.length; position++) {
    if (pattern[position] === "\\") position++;
    else if (pattern[position] === "]") return position;
  }
  return -1;
}

function compileSet(body: string): string {
  const negated = body.startsWith("!") || body.startsWith("^");
  const members = negated ? body.slice(1) : body;
  let source = "";
  for (let position = 0; position < members.length; position++) {
    let character = members[position]!;
    const escaped = character === "\\" && position + 1 < members.length;
    if (escaped) character = members[++position]!;
    const isRange = character === "-" && !escaped && source !== "" && position + 1 < members.length;
    if (isRange) source += "-";
    else source += escapeInSet(character);
  }
  return `[${negated ? "^" : ""}${source}]`;
}

function escapeLiteral(character: string): string {
  return character.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function escapeInSet(character: string): string {
  return character.replace(/[\]\\^-]/g, "\\$&");
}
