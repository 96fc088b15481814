import { normalizeEntryPath } from "../../src/layer/entry-path.js";
import type { LayerEntry, LayerIndex } from "../../src/layer/layer-index.js";
import type { TarMember } from "../../src/layer/tar-scanner.js";
import { MODIFIED, dir, file, hardlink, layer, symlink } from "./index-fixtures.js";

/**
 * Random layer stacks for the differential test of the image views. Paths
 * are drawn from a four-name alphabet so that they collide often, and each
 * layer is a random sequence of tar members, which the differential test
 * lists with LayerIndexBuilder.
 */

/** Names that generated paths are made of. There are few, so that paths collide often. */
export const NAMES = ["a", "b", "c", "d"] as const;

/** Returns a mulberry32 generator of numbers in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Seeded random choices for the generator and the probes. */
export class Random {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** Returns an integer in [0, count). */
  int(count: number): number {
    return Math.floor(this.next() * count);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Random.pick needs at least one item");
    return items[this.int(items.length)]!;
  }

  /** Picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[];
    const total = keys.reduce((sum, key) => sum + weights[key], 0);
    let roll = this.next() * total;
    for (const key of keys) {
      roll -= weights[key];
      if (roll < 0) return key;
    }
    return keys[keys.length - 1]!;
  }
}

/**
 * Records the generated tar members, and keeps a model of the layer that
 * later members are drawn from. The model has one entry per path, and a
 * later member for the path replaces it and moves to the end. A hardlink
 * takes content from an earlier entry of this layer that has content. The model's index
 * is the generator's view of the layer, used to count the hard cases; the
 * differential test lists the members themselves.
 */
class SimulatedIndexBuilder {
  readonly members: TarMember[] = [];
  private readonly entries = new Map<string, LayerEntry>();
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirectories = new Set<string>();

  /** Adds a file, folder or symlink member. */
  addEntry(entry: LayerEntry): void {
    if (entry.type === "directory") {
      this.recordMember(`${entry.path}/`, "5", "", entry);
    } else if (entry.type === "symlink") {
      this.recordMember(entry.path, "2", entry.linkTarget ?? "", entry);
    } else {
      this.recordMember(entry.path, "0", "", entry);
    }
    this.record(entry);
  }

  /** Adds a hardlink member whose link name is as written in the tar, before normalization. */
  addHardlink(path: string, linkName: string, mode: number, modified: number): void {
    const target = normalizeEntryPath(linkName);
    const earlier = this.entries.get(target);
    const resolved =
      earlier?.dataOffset === undefined
        ? undefined
        : { dataOffset: earlier.dataOffset, size: earlier.size };
    const entry = { ...hardlink(path, target, resolved), mode, modified };
    this.recordMember(path, "1", linkName, { size: 0, mode, modified });
    this.record(entry);
  }

  /** Adds a whiteout marker member, `.wh.NAME` beside the path it hides. */
  addWhiteout(path: string): void {
    const slash = path.lastIndexOf("/");
    const name = `${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`;
    this.recordMember(name, "0", "", { size: 0, mode: 0o644, modified: MODIFIED });
    this.whiteouts.add(path);
  }

  /** Adds an opaque marker member, `.wh..wh..opq` inside the folder (`""` is the root). */
  addOpaqueDirectory(path: string): void {
    const name = path === "" ? ".wh..wh..opq" : `${path}/.wh..wh..opq`;
    this.recordMember(name, "0", "", { size: 0, mode: 0o644, modified: MODIFIED });
    this.opaqueDirectories.add(path);
  }

  entryAt(path: string): LayerEntry | undefined {
    return this.entries.get(path);
  }

  entryPaths(): string[] {
    return [...this.entries.keys()];
  }

  build(): LayerIndex {
    return layer([...this.entries.values()], {
      whiteouts: [...this.whiteouts],
      opaque: [...this.opaqueDirectories],
    });
  }

  private record(entry: LayerEntry): void {
    this.entries.delete(entry.path);
    this.entries.set(entry.path, entry);
  }

  /**
   * Records a member. Only a file's `dataOffset` is real: a listing reads
   * no `headerOffset`, and no `dataOffset` of other members, so those are 0.
   */
  private recordMember(
    name: string,
    typeflag: string,
    linkName: string,
    fields: { size: number; mode: number; modified: number; dataOffset?: number },
  ): void {
    const { size, mode, modified } = fields;
    const dataOffset = fields.dataOffset ?? 0;
    const headerOffset = 0;
    this.members.push({ name, typeflag, size, mode, modified, linkName, headerOffset, dataOffset });
  }
}

const MEMBER_WEIGHTS = {
  file: 26,
  directory: 18,
  symlink: 16,
  hardlink: 18,
  whiteout: 12,
  opaque: 10,
  symlinkChain: 0.6,
} as const;

/**
 * Lengths of generated symlink chains: one far below, and four around the
 * limit of 40 symlinks per lookup (MAX_SYMLINK_HOPS in resolve-path.ts),
 * where a chain stops resolving.
 */
const SYMLINK_CHAIN_LENGTHS = [8, 39, 40, 41, 42] as const;

const FILE_MODES = [0o644, 0o755, 0o600, 0o100644, 0o4755] as const;
const DIRECTORY_MODES = [0o755, 0o700, 0o40755, 0o1777] as const;
const LINK_MODES = [0o644, 0o600, 0o777] as const;

/** One generated layer: its index, and the tar members it was built from. */
export interface GeneratedLayer {
  index: LayerIndex;
  members: TarMember[];
}

/** Generates the layers of a random stack of 1 to 5 layers, the same layers for the same seed. */
export function generateLayers(seed: number): GeneratedLayer[] {
  return new LayerStackGenerator(seed).generate();
}

/** Generates a random layer stack of 1 to 5 layers, the same stack for the same seed. */
export function generateLayerStack(seed: number): LayerIndex[] {
  return generateLayers(seed).map((generated) => generated.index);
}

class LayerStackGenerator {
  private readonly random: Random;
  /**
   * Paths named so far in the stack, as entry, link target or marker. A path
   * named twice is picked twice as often.
   */
  private readonly knownPaths: string[] = [];
  /** Hardlink targets that no member named yet, for later members of the same layer to create. */
  private pendingTargets: string[] = [];
  private nextDataOffset = 1024;

  constructor(seed: number) {
    this.random = new Random(seed);
  }

  generate(): GeneratedLayer[] {
    const layerCount = 1 + this.random.int(5);
    const layers: GeneratedLayer[] = [];
    for (let k = 0; k < layerCount; k++) layers.push(this.generateLayer());
    return layers;
  }

  private generateLayer(): GeneratedLayer {
    const builder = new SimulatedIndexBuilder();
    this.pendingTargets = [];
    // Most layers are small, which keeps failing cases short. One in four is
    // larger, for longer chains of links and replacements.
    const memberCount = this.random.chance(0.25) ? 12 + this.random.int(20) : this.random.int(12);
    for (let i = 0; i < memberCount; i++) this.addMember(builder);
    return { index: builder.build(), members: builder.members };
  }

  private addMember(builder: SimulatedIndexBuilder): void {
    const random = this.random;
    const kind = random.weighted(MEMBER_WEIGHTS);
    const modified = MODIFIED + random.int(4) * 1000;

    if (kind === "whiteout") {
      builder.addWhiteout(this.pickPath());
      return;
    }
    if (kind === "opaque") {
      builder.addOpaqueDirectory(random.chance(0.1) ? "" : this.pickPath());
      return;
    }
    if (kind === "symlinkChain") {
      this.addSymlinkChain(builder, modified);
      return;
    }

    const path = this.pickEntryPath();
    if (kind === "file") {
      const size = random.int(100);
      const mode = random.pick(FILE_MODES);
      builder.addEntry({ ...file(path, this.nextDataOffset, size), mode, modified });
      this.nextDataOffset += 1024;
    }
    if (kind === "directory") {
      builder.addEntry({ ...dir(path, random.pick(DIRECTORY_MODES)), modified });
    }
    if (kind === "symlink") {
      builder.addEntry({ ...symlink(path, this.symlinkTarget(path)), modified });
    }
    if (kind === "hardlink") {
      const mode = random.pick(LINK_MODES);
      builder.addHardlink(path, this.hardlinkName(path, builder), mode, modified);
    }
  }

  /**
   * Adds a chain of symlinks on distinct paths of depth 3, each pointing at
   * the next, and a file or folder at its end. Other members of the layer
   * may replace some of its paths.
   */
  private addSymlinkChain(builder: SimulatedIndexBuilder, modified: number): void {
    const random = this.random;
    const length = random.pick(SYMLINK_CHAIN_LENGTHS);
    const first = random.int(64);
    const paths: string[] = [];
    for (let i = 0; i <= length; i++) {
      const number = (first + i) % 64;
      paths.push(`${NAMES[number >> 4]}/${NAMES[(number >> 2) & 3]}/${NAMES[number & 3]}`);
    }

    for (let i = 0; i < length; i++) {
      const target = random.chance(0.5) ? `/${paths[i + 1]}` : `../../${paths[i + 1]}`;
      builder.addEntry({ ...symlink(paths[i]!, target), modified });
    }
    const end = paths[length]!;
    if (random.chance(0.5)) {
      builder.addEntry({ ...file(end, this.nextDataOffset, random.int(100)), modified });
      this.nextDataOffset += 1024;
    } else {
      builder.addEntry({ ...dir(end), modified });
    }
    this.knownPaths.push(paths[0]!, end);
  }

  /** Picks the path of a new entry, often a hardlink target that no member created yet. */
  private pickEntryPath(): string {
    if (this.pendingTargets.length > 0 && this.random.chance(0.5)) {
      return this.pendingTargets.shift()!;
    }
    return this.pickPath();
  }

  /** Picks a path that is often already known, or below or above a known path. */
  private pickPath(): string {
    const random = this.random;
    const roll = random.int(100);
    let path: string;
    if (this.knownPaths.length === 0 || roll < 35) {
      path = this.freshPath();
    } else {
      const known = random.pick(this.knownPaths);
      const depth = known.split("/").length;
      if (roll < 70) path = known;
      else if (roll < 85 && depth < 5) path = `${known}/${random.pick(NAMES)}`;
      else if (depth > 1) path = parentOf(known);
      else path = this.freshPath();
    }
    this.knownPaths.push(path);
    return path;
  }

  /** Returns a path of depth 1 to 4, mostly shallow. */
  private freshPath(): string {
    const depth = this.random.pick([1, 1, 2, 2, 2, 3, 3, 4]);
    const segments: string[] = [];
    for (let i = 0; i < depth; i++) segments.push(this.random.pick(NAMES));
    return segments.join("/");
  }

  /**
   * Returns a symlink target: relative or absolute, to a known path or a
   * missing one, to the link itself or an ancestor, or with `.`, `..` and
   * trailing slashes.
   */
  private symlinkTarget(linkPath: string): string {
    const random = this.random;
    const segments = linkPath.split("/");
    const base = segments[segments.length - 1]!;
    const upToRoot = "../".repeat(segments.length - 1);

    switch (random.int(10)) {
      case 0:
        return `${upToRoot}${this.pickPath()}`;
      case 1:
        return `/${this.pickPath()}`;
      case 2:
        return this.freshPath();
      case 3:
        return random.pick([base, `./${base}`, `/${linkPath}`]);
      case 4:
        return random.pick(["..", "../..", ".", "/", `/${segments[0]!}`, `../${base}`]);
      case 5:
        return `${random.pick(NAMES)}/../${random.pick(NAMES)}${random.chance(0.5) ? "/" : ""}`;
      case 6:
        return `/${this.pickPath()}/${random.pick(["..", ".", "", "../.."])}`;
      case 7:
        return random.pick(["missing", "/missing/a", `${base}/a`, "a/b/c/d/e"]);
      case 8:
        return random.chance(0.2) ? "" : `/../../${this.pickPath()}`;
      default:
        return `${random.pick(["", "/"])}${this.pickPath()}`;
    }
  }

  /**
   * Returns a hardlink's name as written in the tar. It names an earlier
   * entry of this layer of any type, an earlier hardlink (making a chain), a
   * path of a lower layer, a path that a later member creates, the link
   * itself, or a missing path. Some names have a leading `/`, `./` or
   * `NAME/../`, or a trailing `/`.
   */
  private hardlinkName(linkPath: string, builder: SimulatedIndexBuilder): string {
    const random = this.random;
    const earlierPaths = builder.entryPaths();
    const earlierLinks = earlierPaths.filter((path) => builder.entryAt(path)?.type === "hardlink");
    const roll = random.int(100);

    let target: string;
    if (roll < 25 && earlierPaths.length > 0) target = random.pick(earlierPaths);
    else if (roll < 40 && earlierLinks.length > 0) target = random.pick(earlierLinks);
    else if (roll < 65) target = this.pickPath();
    else if (roll < 80) {
      target = this.freshPath();
      this.pendingTargets.push(target);
    } else if (roll < 88) target = linkPath;
    else if (roll < 96) target = `missing/${random.pick(NAMES)}`;
    else target = "";

    const spelling = random.int(20);
    if (spelling < 3) return `/${target}`;
    if (spelling < 5) return `./${target}`;
    if (spelling < 6) return `${random.pick(NAMES)}/../${target}`;
    if (spelling < 7) return `${target}/`;
    return target;
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/**
 * Formats a stack as one line per layer and one JSON object per entry, in
 * the order given to buildRootfsView, so that a failing case can be pasted
 * into a hand-written test.
 */
export function describeLayerStack(stack: readonly LayerIndex[]): string {
  const lines: string[] = [];
  stack.forEach((index, k) => {
    const whiteouts = JSON.stringify(index.whiteouts);
    const opaque = JSON.stringify(index.opaqueDirectories);
    lines.push(`layer ${k}: whiteouts ${whiteouts}, opaque ${opaque}, entries:`);
    for (const entry of index.entries) lines.push(`  ${JSON.stringify(entry)}`);
  });
  return lines.join("\n");
}
