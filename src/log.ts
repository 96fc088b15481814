/**
 * A small leveled logger writing one line per event to stderr. Quiet by
 * default (warn); `--log-level` or REGDAV_LOG_LEVEL raise it. Fields are
 * printed as key=value, so lines stay greppable. Never pass a secret.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogFields = Record<string, string | number | boolean | undefined>;

let currentLevel: LogLevel = parseLogLevel(process.env.REGDAV_LOG_LEVEL) ?? "warn";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  return value in rank ? (value as LogLevel) : undefined;
}

export function setLogLevel(level: LogLevel): void {
  currentLevel = level;
}

/** Replaces where log lines go; tests use it to capture output. */
export function setLogSink(write: (line: string) => void): void {
  sink = write;
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return "";
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    parts.push(/[\s"=]/.test(text) ? `${key}=${JSON.stringify(text)}` : `${key}=${text}`);
  }
  return parts.length ? " " + parts.join(" ") : "";
}

function emit(level: LogLevel, message: string, fields?: LogFields): void {
  if (rank[level] < rank[currentLevel]) return;
  sink(`${new Date().toISOString()} ${level.toUpperCase()} ${message}${formatFields(fields)}`);
}

export const log = {
  debug: (message: string, fields?: LogFields) => emit("debug", message, fields),
  info: (message: string, fields?: LogFields) => emit("info", message, fields),
  warn: (message: string, fields?: LogFields) => emit("warn", message, fields),
  error: (message: string, fields?: LogFields) => emit("error", message, fields),
  enabled: (level: LogLevel) => rank[level] >= rank[currentLevel],
};
