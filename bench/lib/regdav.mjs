// Starts regdav the way a user does (`bin/regdav serve`), each time with
// a fresh cache folder, and reads its memory use from /proc.
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { join, relative } from "node:path";

import { respondsToHttp, freePort, runCommand, startServer } from "./process.mjs";

/**
 * Throws when dist/ is missing, because bin/regdav runs it. When a file
 * under src/ is newer than dist/, the bench would measure older code than
 * src/ contains, so this returns a warning that names the file. Returns
 * undefined when the build is current.
 */
export async function checkBuild(repoRoot) {
  const entry = join(repoRoot, "dist", "cli", "main.js");
  if (!existsSync(entry)) {
    throw new Error("dist/ is missing: run `npm run build` before `npm run bench`");
  }
  const built = statSync(entry).mtimeMs;
  const sources = await readdir(join(repoRoot, "src"), { recursive: true, withFileTypes: true });
  const newer = sources.find(
    (dirent) => dirent.isFile() && statSync(join(dirent.parentPath, dirent.name)).mtimeMs > built,
  );
  if (newer === undefined) return undefined;
  const path = relative(repoRoot, join(newer.parentPath, newer.name));
  return `${path} is newer than dist/, so this run measured an older build: run \`npm run build\` first`;
}

/**
 * Starts `bin/regdav serve` on a free loopback port with a new empty
 * cache folder under `scratchDir` (or the folder `options.cacheDir`, kept on
 * stop) and HOME set to an empty folder, so no stored registry login is
 * read. Resolves once `OPTIONS /` gets a response.
 */
export async function startRegdav(repoRoot, scratchDir, registryHost, options = {}) {
  await mkdir(scratchDir, { recursive: true });
  const dir = await mkdtemp(join(scratchDir, "regdav-"));
  const cacheDir = options.cacheDir ?? join(dir, "cache");
  const home = join(dir, "home");
  await mkdir(home);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["serve", "--listen", `127.0.0.1:${port}`];
  args.push("--registry", registryHost, "--insecure-registry", registryHost);
  args.push("--cache-dir", cacheDir, "--log-level", "warn");

  const server = await startServer({
    name: "regdav",
    // bin/regdav starts Node.js with its own V8 flags, so it runs as an
    // executable, as it does for a user, and not as `node bin/regdav`.
    command: join(repoRoot, "bin", "regdav"),
    args,
    cwd: repoRoot,
    env: { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, ".cache") },
    isReady: () => respondsToHttp(`${url}/`, "OPTIONS"),
  });
  return {
    url,
    cacheDir,
    pid: server.child.pid,
    output: server.output,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Returns the bytes that the files under the folders take, as `du -sbc` counts them. */
export async function diskUsage(...dirs) {
  const { stdout } = await runCommand("du", ["-sbc", ...dirs]);
  const total = stdout.toString("utf8").trim().split("\n").at(-1);
  return Number(total.split("\t")[0]);
}

/** Returns the peak resident set size (VmHWM) of a process, in bytes. */
export async function peakRss(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmHWM line`);
  return Number(match[1]) * 1024;
}
