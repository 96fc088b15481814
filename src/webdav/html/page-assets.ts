import { createHash } from "node:crypto";

/**
 * The style sheet and the one script of every browser page, inlined so a
 * page needs no other request. The Content-Security-Policy allows exactly
 * these two texts by hash, so markup injected from an image name could
 * neither run a script nor load anything.
 */

export const PAGE_STYLE = `
:root { color-scheme: light dark; --muted: #666; --line: #ddd; --accent: #0b57d0; --code: #f4f4f4; }
@media (prefers-color-scheme: dark) {
  :root { --muted: #aaa; --line: #444; --accent: #8ab4f8; --code: #222; }
}
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 0.75rem; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
h1 { font-size: 1.25rem; margin: 0.5rem 0 1rem; overflow-wrap: anywhere; }
nav.crumbs { color: var(--muted); overflow-wrap: anywhere; }
nav.crumbs a { font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td {
  border-bottom: 1px solid var(--line); padding: 0.3rem 0.5rem;
  text-align: left; vertical-align: top;
}
th { color: var(--muted); font-weight: 600; }
td.name { overflow-wrap: anywhere; }
td.size, th.size { text-align: right; white-space: nowrap; }
td.muted, .muted { color: var(--muted); }
#filter {
  box-sizing: border-box; font: inherit; margin: 0 0 0.75rem; padding: 0.4rem 0.6rem;
  width: 100%; max-width: 24rem;
}
section.image {
  border: 1px solid var(--line); border-radius: 6px; margin: 0 0 1.25rem; padding: 0.5rem 0.9rem;
}
section.image h2 { font-size: 1.05rem; margin: 0.4rem 0; }
dl {
  display: grid; gap: 0.2rem 1rem; margin: 0.5rem 0;
  grid-template-columns: max-content minmax(0, 1fr);
}
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
dd ul { list-style: none; margin: 0; padding: 0; }
pre.json, pre.text {
  background: var(--code); border-radius: 6px; overflow-x: auto; padding: 0.75rem;
}
pre.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.json .key { color: #a0318a; }
.json .string { color: #1a7f37; }
.json .literal { color: #b35900; }
@media (prefers-color-scheme: dark) {
  .json .key { color: #e48ad7; }
  .json .string { color: #7ee787; }
  .json .literal { color: #ffab70; }
}
.json :target { outline: 2px solid var(--accent); }
@media (max-width: 40rem) {
  .wide { display: none; }
  dl { grid-template-columns: minmax(0, 1fr); }
  dd { margin-bottom: 0.3rem; }
}
`;

/**
 * Filters the rows of `#entries` by the text in `#filter`, case-insensitive,
 * on each keystroke. The box stays hidden where scripts do not run.
 */
export const FILTER_SCRIPT = `
const filter = document.getElementById("filter");
const rows = Array.from(document.querySelectorAll("#entries tr[data-name]"));
if (filter) {
  filter.hidden = false;
  filter.addEventListener("input", () => {
    const text = filter.value.trim().toLowerCase();
    for (const row of rows) row.hidden = text !== "" && !row.dataset.name.includes(text);
  });
}
`;

function hashSource(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/**
 * The policy of every browser page: nothing but the inline style and script
 * above. `img-src data:` is for the empty icon each page declares, which
 * keeps the browser from requesting /favicon.ico.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${hashSource(PAGE_STYLE)}`,
  `script-src ${hashSource(FILTER_SCRIPT)}`,
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
