import type { LayerPassProgress } from "../cache/layer-store.js";

/** Milliseconds between redraws of the progress line. */
const REDRAW_INTERVAL_MS = 200;

interface RunningPass {
  bytes: number;
  size: number | undefined;
}

/** The terminal stream the progress line is drawn on: process.stderr, or a test's stand-in. */
export interface ProgressTerminal {
  write(text: string): unknown;
  readonly columns?: number;
}

/**
 * One self-overwriting status line on a terminal for the layer passes that
 * are running: layers, bytes read of the known total, rate and time left.
 * It is drawn when a pass starts and then every 200 ms, and erased when no
 * pass runs, before any other output, and at the end.
 */
export class ProgressLine {
  private readonly passes = new Map<string, RunningPass>();
  private started = 0;
  /** Bytes of passes that ended since the first running one started, for the rate. */
  private finishedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private visible = false;

  constructor(
    private readonly terminal: ProgressTerminal,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one report of a layer pass, as the listener set as LayerStore.onPassProgress. */
  readonly update = (progress: LayerPassProgress): void => {
    if (progress.done) {
      this.endPass(progress);
      return;
    }
    const isNew = !this.passes.has(progress.digest);
    this.passes.set(progress.digest, { bytes: progress.bytes, size: progress.size });
    if (isNew) this.startPass();
  };

  /** Erases the line, if shown, so that other output starts at the left edge. */
  readonly clear = (): void => {
    if (!this.visible) return;
    this.terminal.write("\r\x1b[2K");
    this.visible = false;
  };

  /** Erases the line and stops redrawing. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.passes.clear();
    this.clear();
  }

  private startPass(): void {
    if (this.passes.size === 1) {
      this.started = this.now();
      this.finishedBytes = 0;
    }
    this.timer ??= setInterval(() => this.draw(), REDRAW_INTERVAL_MS).unref();
    this.draw();
  }

  private endPass(progress: LayerPassProgress): void {
    if (!this.passes.delete(progress.digest)) return;
    this.finishedBytes += progress.bytes;
    if (this.passes.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  private draw(): void {
    if (this.passes.size === 0) return;
    const text = describePasses([...this.passes], this.finishedBytes, this.now() - this.started);
    // A terminal of unknown size, such as a pseudo-terminal that was never sized, reports 0 columns.
    const width = this.terminal.columns || 80;
    this.terminal.write("\r\x1b[2K" + text.slice(0, Math.max(width - 1, 0)));
    this.visible = true;
  }
}

/**
 * Formats the line, such as `layer 82133946481a  12.0 MiB / 40.0 MiB  30%
 * 5.1 MiB/s  6s left`. A pass without a known size has no percentage or time left.
 */
export function describePasses(
  passes: readonly [digest: string, pass: RunningPass][],
  finishedBytes: number,
  elapsedMs: number,
): string {
  const bytes = passes.reduce((sum, [, pass]) => sum + pass.bytes, 0);
  const sizes = passes.map(([, pass]) => pass.size);
  const total = sizes.every((size) => size !== undefined) ? sizes.reduce((a, b) => a + b, 0) : undefined;
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? (bytes + finishedBytes) / seconds : 0;

  const first = passes[0]?.[0] ?? "";
  const parts = [passes.length === 1 ? `layer ${shortDigest(first)}` : `${passes.length} layers`];
  if (total === undefined) {
    parts.push(formatBytes(bytes));
  } else {
    const percent = total > 0 ? Math.floor((bytes / total) * 100) : 100;
    parts.push(`${formatBytes(bytes)} / ${formatBytes(total)}`, `${percent}%`);
  }
  parts.push(`${formatBytes(rate)}/s`);
  if (total !== undefined && rate > 0) parts.push(`${formatDuration((total - bytes) / rate)} left`);
  return parts.join("  ");
}

function shortDigest(digest: string): string {
  return (digest.split(":")[1] ?? digest).slice(0, 12);
}

/** Formats bytes with binary units: `512 B`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Formats seconds as `45s`, `3m05s` or `1h02m`. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.ceil(seconds));
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
