import { spawn } from "node:child_process";
import { LRUCache } from "lru-cache";

import { RegdavError } from "../errors.js";
import { log } from "../log.js";
import type { Credentials } from "./credentials.js";

/**
 * Runs docker credential helpers by docker's protocol: `docker-credential-NAME
 * get` reads the server URL on stdin and prints
 * `{"ServerURL", "Username", "Secret"}`. A Username of `<token>` marks the
 * Secret as an identity token. A helper that has nothing for the server exits
 * non-zero with "credentials not found" in its output. Results are reused
 * for a minute, because the token flow looks up credentials once per repository.
 */
export interface CredentialHelperOptions {
  /** Maximum run time of one helper call (default 30 s; cloud helpers may call their API). */
  timeoutMs?: number;
  /** Environment of the helper, which usually needs HOME and its own settings. */
  env?: NodeJS.ProcessEnv;
}

export interface HelperLookup {
  /** The part after `docker-credential-`, such as `ecr-login` or `pass`. */
  helper: string;
  serverUrl: string;
  /** The setting that names the helper, such as `credsStore in /home/me/.docker/config.json`. */
  configuredIn: string;
}

const defaultTimeoutMs = 30_000;
const reuseMs = 60_000;
const maxOutputBytes = 1024 * 1024;
const maxMessageLength = 300;
const helperNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export class CredentialHelpers {
  private readonly answers = new LRUCache<string, Promise<Credentials | undefined>>({
    max: 200,
    ttl: reuseMs,
  });

  constructor(private readonly options: CredentialHelperOptions = {}) {}

  /** Returns the helper's credentials for the server, or undefined when it has none. */
  get(lookup: HelperLookup): Promise<Credentials | undefined> {
    const key = `${lookup.helper}\n${lookup.serverUrl}`;
    let pending = this.answers.get(key);
    if (!pending) {
      pending = this.run(lookup);
      pending.catch(() => this.answers.delete(key));
      this.answers.set(key, pending);
    }
    return pending;
  }

  private async run(lookup: HelperLookup): Promise<Credentials | undefined> {
    const program = helperProgram(lookup);
    const result = await runHelper(program, lookup.serverUrl, this.options);
    if (result.kind === "timeout") {
      const seconds = (this.options.timeoutMs ?? defaultTimeoutMs) / 1000;
      throw new RegdavError(
        "TIMEOUT",
        `credential helper ${program} (${lookup.configuredIn}) timed out after ${seconds} s ` +
          `for ${lookup.serverUrl}`,
      );
    }
    if (result.kind === "missing") {
      throw helperFailure(lookup, program, `${program} was not found on PATH`, result.detail);
    }

    if (result.code !== 0) {
      if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
      throw helperFailure(lookup, program, `exited with code ${result.code}`, failureText(result));
    }
    return parseHelperOutput(result.stdout, lookup, program);
  }
}

type HelperResult =
  | { kind: "exited"; code: number; stdout: string; stderr: string }
  | { kind: "timeout" }
  | { kind: "missing"; detail: string };

/** Validates the configured name, so that a config file cannot name a path to run. */
function helperProgram(lookup: HelperLookup): string {
  if (!helperNamePattern.test(lookup.helper)) {
    throw new RegdavError(
      "REGISTRY_UNAUTHORIZED",
      `invalid credential helper name ${JSON.stringify(lookup.helper)} (${lookup.configuredIn}): ` +
        "use the part after docker-credential-, such as ecr-login",
    );
  }
  return `docker-credential-${lookup.helper}`;
}

function runHelper(
  program: string,
  serverUrl: string,
  options: CredentialHelperOptions,
): Promise<HelperResult> {
  return new Promise((resolve) => {
    // Its own process group, so that a timeout also ends what a helper script started.
    const child = spawn(program, ["get"], {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const stdout = boundedCollector();
    const stderr = boundedCollector();
    child.stdout.on("data", stdout.add);
    child.stderr.on("data", stderr.add);
    child.stdin.on("error", () => {}); // a helper may exit without reading its input

    const timer = setTimeout(() => {
      killGroup(child.pid);
      resolve({ kind: "timeout" });
    }, options.timeoutMs ?? defaultTimeoutMs);

    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ kind: "missing", detail: error.code ?? error.message });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const exitCode = code ?? (signal ? 128 : 1);
      resolve({ kind: "exited", code: exitCode, stdout: stdout.text(), stderr: stderr.text() });
    });
    // Docker writes the server URL without a newline and closes stdin.
    child.stdin.end(serverUrl);
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // The helper has exited already.
  }
}

function boundedCollector() {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    add: (chunk: Buffer) => {
      if (size >= maxOutputBytes) return;
      chunks.push(chunk);
      size += chunk.length;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}

/**
 * Picks the helper's own error message: stderr, else stdout, since docker's
 * helpers print errors there. Output that looks like JSON is withheld, as it
 * may contain a secret.
 */
function failureText(result: { stdout: string; stderr: string }): string {
  const text = result.stderr.trim() || result.stdout.trim();
  if (text.startsWith("{") || /"Secret"/.test(text)) return "(output withheld)";
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > maxMessageLength ? `${oneLine.slice(0, maxMessageLength)}...` : oneLine;
}

function helperFailure(
  lookup: HelperLookup,
  program: string,
  failure: string,
  detail: string,
): RegdavError {
  const reason = detail ? `: ${detail}` : "";
  log.warn("credential helper failed", { helper: program, server: lookup.serverUrl, failure });
  return new RegdavError(
    "REGISTRY_UNAUTHORIZED",
    `credential helper ${program} (${lookup.configuredIn}) failed for ${lookup.serverUrl}: ` +
      `${failure}${reason}; fix the helper, or remove it from the config to read the registry ` +
      "anonymously",
  );
}

function parseHelperOutput(
  stdout: string,
  lookup: HelperLookup,
  program: string,
): Credentials | undefined {
  let json: { Username?: unknown; Secret?: unknown } | null;
  try {
    json = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown } | null;
  } catch {
    throw helperFailure(lookup, program, "printed output that is not JSON", "");
  }

  const username = typeof json?.Username === "string" ? json.Username : "";
  const secret = typeof json?.Secret === "string" ? json.Secret : "";
  if (secret === "") return undefined;

  const source = `credential helper ${program} (${lookup.configuredIn})`;
  if (username === "<token>") return { identityToken: secret, source };
  return { username, password: secret, source };
}
