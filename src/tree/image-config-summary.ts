import type { Schema1Manifest } from "../manifest/parse.js";

/**
 * The fields of an image config (OCI image spec, "config" and "history")
 * that a folder description shows. Configs come from registries, so every
 * field is read defensively: a field of the wrong type counts as absent.
 */
export interface ConfigSummary {
  created?: string;
  platform?: string;
  entrypoint?: string[];
  command?: string[];
  environment: string[];
  workingDir?: string;
  user?: string;
  /** One entry per layer, base first: the `created_by` and its position in `history`. */
  layerHistory: { createdBy?: string; historyIndex?: number }[];
}

type JsonRecord = Record<string, unknown>;

/** Reads an OCI or Docker schema 2 config; text that is not a JSON object reads as empty. */
export function summarizeConfig(text: string): ConfigSummary {
  const json = parseObject(text);
  const runConfig = recordField(json, "config");
  const summary: ConfigSummary = {
    created: stringField(json, "created"),
    platform: platformOf(json),
    entrypoint: stringList(runConfig?.Entrypoint),
    command: stringList(runConfig?.Cmd),
    environment: stringList(runConfig?.Env) ?? [],
    workingDir: stringField(runConfig, "WorkingDir") || undefined,
    user: stringField(runConfig, "User") || undefined,
    layerHistory: [],
  };

  const history = Array.isArray(json?.history) ? json.history : [];
  history.forEach((entry: unknown, historyIndex) => {
    const record = isRecord(entry) ? entry : {};
    // Entries marked empty_layer (ENV, CMD, ...) made no layer, so they are skipped.
    if (record.empty_layer === true) return;
    summary.layerHistory.push({ createdBy: stringField(record, "created_by"), historyIndex });
  });
  return summary;
}

/**
 * Reads a schema 1 manifest, whose newest v1Compatibility entry serves as
 * the config. Each layer's history line is the `container_config.Cmd` of
 * its own entry, since schema 1 has no `created_by`. Schema 1 lists layers
 * newest first, so entry `n - 1 - p` belongs to the layer at position `p`.
 */
export function summarizeSchema1(manifest: Schema1Manifest): ConfigSummary {
  const summary = summarizeConfig(manifest.configJson);
  const count = manifest.history.length;
  summary.layerHistory = manifest.layers.map((_, position) => {
    const entry = manifest.history[count - 1 - position]?.v1Compatibility;
    const command = stringList(recordField(entry, "container_config")?.Cmd);
    return { createdBy: command?.join(" ") };
  });
  return summary;
}

function parseObject(text: string): JsonRecord | undefined {
  try {
    const json: unknown = JSON.parse(text);
    return isRecord(json) ? json : undefined;
  } catch {
    return undefined;
  }
}

function platformOf(json: JsonRecord | undefined): string | undefined {
  const os = stringField(json, "os");
  const architecture = stringField(json, "architecture");
  if (!os || !architecture) return undefined;
  const variant = stringField(json, "variant");
  return [os, architecture, ...(variant ? [variant] : [])].join("/");
}

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function recordField(json: JsonRecord | undefined, key: string): JsonRecord | undefined {
  const value = json?.[key];
  return isRecord(value) ? value : undefined;
}

function stringField(json: JsonRecord | undefined, key: string): string | undefined {
  const value = json?.[key];
  return typeof value === "string" ? value : undefined;
}

/** Returns the array when every item is a string, else undefined. */
function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.every((item) => typeof item === "string") ? (value as string[]) : undefined;
}
