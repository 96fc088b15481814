import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: test/harness/ is two levels below it. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The Debian package that provides each external program the harness runs. */
const debianPackageByTool: Record<string, string> = {
  "docker-registry": "docker-registry",
  skopeo: "skopeo",
  umoci: "umoci",
  rclone: "rclone",
  fusermount3: "fuse3",
  fusermount: "fuse3",
  mountpoint: "util-linux",
  zstd: "zstd",
  curl: "curl",
  htpasswd: "apache2-utils",
  "mount.davfs": "davfs2",
};

/**
 * Finds an external program on PATH and returns its absolute path. Throws when
 * it is missing, so a test that needs the program fails instead of skipping.
 */
export async function requireTool(name: string): Promise<string> {
  const directories = (process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== "");
  for (const directory of directories) {
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory: keep looking.
    }
  }

  const packageName = debianPackageByTool[name] ?? name;
  throw new Error(
    `required tool "${name}" was not found on PATH: install the Debian package ` +
      `"${packageName}" (apt-get install -y ${packageName}), or run bash test/run-all.sh, ` +
      "which installs every tool the tests need",
  );
}

/**
 * Returns a TCP port that was free on 127.0.0.1 a moment ago. Another process
 * can take it before the caller binds it, which `retryOnPortInUse` handles by
 * starting again on a new port.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") {
          resolve(address.port);
        } else {
          reject(new Error(`unexpected server address ${String(address)}`));
        }
      });
    });
  });
}

/** Max attempts of `retryOnPortInUse`. */
const portAttempts = 3;

/**
 * Runs `start` with a fresh free port, again with a new port when it fails
 * because the port was taken in the meantime.
 */
export async function retryOnPortInUse<T>(start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= portAttempts; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      lastError = error;
      const message = error instanceof Error ? error.message : String(error);
      if (!/address already in use|EADDRINUSE/i.test(message)) throw error;
    }
  }
  throw lastError;
}

export interface TempDir {
  readonly path: string;
  /** Deletes the folder and everything in it; safe to call twice. */
  remove(): Promise<void>;
}

/** Creates an empty folder under the system temp folder, named `regdav-<prefix>-XXXXXX`. */
export async function makeTempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `regdav-${prefix}-`));
  return {
    path,
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** Runs `body` with a fresh temp folder and deletes the folder afterwards, also on error. */
export async function withTempDir<T>(
  prefix: string,
  body: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await makeTempDir(prefix);
  try {
    return await body(dir.path);
  } finally {
    await dir.remove();
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the program's standard input, which is then closed. */
  input?: Buffer | string;
  /** Milliseconds before the program is killed; default 120000. */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs a program to completion and returns its output. Rejects when the
 * program exits with a non-zero status, is killed by a signal or times out.
 * The error message contains the command line and the program's stderr.
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const commandLine = [command, ...args].join(" ");
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
  });

  const stdoutChunks: Buffer[] = [];
  const stderrChunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdoutChunks.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderrChunks.push(chunk));
  // EPIPE from a program that exits without reading its input is not an error here.
  child.stdin.on("error", () => {});
  child.stdin.end(options.input ?? "");

  const timeoutMs = options.timeoutMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);

  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
      (resolve, reject) => {
        child.once("error", reject);
        child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
      },
    );
    const stdout = Buffer.concat(stdoutChunks);
    const stderr = Buffer.concat(stderrChunks).toString("utf8");
    if (timedOut) {
      throw new Error(`${commandLine} timed out after ${timeoutMs} ms; stderr:\n${stderr}`);
    }
    if (code !== 0) {
      const status = signal === null ? `exit code ${code}` : `signal ${signal}`;
      throw new Error(`${commandLine} failed with ${status}; stderr:\n${stderr}`);
    }
    return { stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `check` every `intervalMs` until it returns true. Rejects after
 * `timeoutMs`, or at once when `check` throws.
 */
export async function waitUntil(
  description: string,
  check: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
