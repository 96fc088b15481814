import { spawn, type ChildProcess } from "node:child_process";

/** Max characters of a service's output kept in memory; older output is dropped. */
const maxOutputChars = 1_000_000;

/** Milliseconds `stop()` waits after SIGTERM before it sends SIGKILL. */
const stopGraceMs = 5_000;

/**
 * Services not yet stopped. When the test process exits without stopping
 * one, for example after a failed test, the exit handler kills it, so no
 * registry or server outlives the test run.
 */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface ServiceOptions {
  /** Name used in error messages, such as "docker-registry". */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Returns true once the service is ready, for example when an HTTP request
   * gets any response. Errors thrown by it count as "not ready yet".
   */
  isReady: () => Promise<boolean>;
  /** Milliseconds to wait for `isReady`; default 30000. */
  readyTimeoutMs?: number;
}

export interface Service {
  readonly process: ChildProcess;
  /** The service's stdout and stderr, interleaved as they arrived. */
  output(): string;
  /** Sends SIGTERM, then SIGKILL after a grace period, and resolves once the process has exited. */
  stop(): Promise<void>;
}

/**
 * Spawns a long-running program and waits until `isReady` returns true.
 * Rejects with the program's output when it exits early or does not become
 * ready in time, after killing it.
 */
export async function startService(options: ServiceOptions): Promise<Service> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });

  running.add(child);

  let output = "";
  const append = (chunk: string) => {
    output += chunk;
    if (output.length > maxOutputChars) output = output.slice(-maxOutputChars);
  };
  // Decoding in the stream keeps characters whole when they span two chunks.
  child.stdout?.setEncoding("utf8").on("data", append);
  child.stderr?.setEncoding("utf8").on("data", append);

  const exited = new Promise<string>((resolve) => {
    child.once("error", (error) => resolve(`could not be started: ${error.message}`));
    child.once("exit", (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
  });
  void exited.then(() => running.delete(child));

  const service: Service = {
    process: child,
    output: () => output,
    stop: () => stopChild(child, exited),
  };

  const failure = await waitForReady(options, exited);
  if (failure !== undefined) {
    await service.stop();
    const commandLine = [options.command, ...options.args].join(" ");
    throw new Error(`${options.name} ${failure}\ncommand: ${commandLine}\noutput:\n${output}`);
  }
  return service;
}

/** Returns undefined when the service became ready, or why it did not. */
async function waitForReady(options: ServiceOptions, exited: Promise<string>) {
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let exitReason: string | undefined;
  void exited.then((reason) => (exitReason = reason));

  while (Date.now() < deadline) {
    if (exitReason !== undefined) return exitReason;
    const ready = await options.isReady().catch(() => false);
    if (ready) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return exitReason ?? `did not become ready within ${timeoutMs} ms`;
}

async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");

  const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Returns true when an HTTP request to `url` gets any response at all. */
export async function respondsToHttp(url: string, method = "GET"): Promise<boolean> {
  try {
    const response = await fetch(url, { method, signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
