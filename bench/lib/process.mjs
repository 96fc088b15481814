// Runs the programs the benchmarks time or depend on: one-shot commands and
// long-running servers, each stopped by its own process id.
import { spawn } from "node:child_process";
import { createServer } from "node:net";

/** Servers not yet stopped. The exit handler kills them when the bench exits early. */
const running = new Set();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Runs a program to completion and returns its stdout and the wall time in
 * milliseconds from spawn to exit. Rejects on a non-zero exit status, with
 * the command line and stderr in the message.
 */
export async function runCommand(command, args, options = {}) {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout = [];
  const stderr = [];
  child.stdout.on("data", (chunk) => stdout.push(chunk));
  child.stderr.on("data", (chunk) => stderr.push(chunk));

  const [code, signal] = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  });
  const ms = performance.now() - started;
  if (code !== 0) {
    const status = signal ? `signal ${signal}` : `exit code ${code}`;
    const message = Buffer.concat(stderr).toString("utf8");
    throw new Error(`${[command, ...args].join(" ")} failed with ${status}:\n${message}`);
  }
  return { stdout: Buffer.concat(stdout), ms };
}

/** Runs a shell command line with bash (pipefail on) and returns what runCommand returns. */
export function runShell(script, options = {}) {
  return runCommand("bash", ["-o", "pipefail", "-c", script], options);
}

/**
 * Runs `sync`, so that the dirty pages of an earlier run (up to 2 GB for the
 * large image) are written back before the next timed step rather than
 * during it. Untimed.
 */
export async function flushDisk() {
  await runCommand("sync", []);
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a server and resolves once `isReady()` returns true, polling every
 * 50 ms for up to `timeoutMs` (default 30000). The result has the child
 * process, its output so far and `stop()`, which sends SIGTERM and then
 * SIGKILL after 5 s.
 */
export async function startServer({ name, command, args, env, cwd, isReady, timeoutMs = 30_000 }) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  const append = (chunk) => (output = (output + chunk).slice(-100_000));
  child.stdout.setEncoding("utf8").on("data", append);
  child.stderr.setEncoding("utf8").on("data", append);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    running.delete(child);
  });

  const server = { name, child, output: () => output, stop: () => stopChild(child, exited) };
  const deadline = performance.now() + timeoutMs;
  while (!(await isReady().catch(() => false))) {
    if (hasExited || performance.now() > deadline) {
      await server.stop();
      const reason = hasExited ? "exited early" : `was not ready after ${timeoutMs} ms`;
      throw new Error(`${name} ${reason}. Its output:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server;
}

async function stopChild(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Sends `method` to `url` and resolves true on any HTTP response; rejects when none arrives within 2 s. */
export async function respondsToHttp(url, method = "GET") {
  const response = await fetch(url, { method, signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return true;
}
