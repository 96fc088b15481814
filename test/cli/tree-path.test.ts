import { describe, expect, it } from "vitest";

import { RegdavError } from "../../src/errors.js";
import { joinDisplay, normalizeSegments, parseTreePath } from "../../src/cli/tree-path.js";
import { UsageError } from "../../src/cli/usage-error.js";

const hex = "a".repeat(64);
const sources = new Set(["work"]);

describe("parseTreePath", () => {
  it.each([
    // Image references with a path inside the image.
    ["debian:bookworm:/etc/os-release", "docker.io/library/debian/_tags/bookworm/rootfs/etc/os-release"],
    ["debian:/etc", "docker.io/library/debian/_tags/latest/rootfs/etc"],
    ["debian:/", "docker.io/library/debian/_tags/latest/rootfs"],
    ["org/tool:1.2:/usr/bin", "docker.io/org/tool/_tags/1.2/rootfs/usr/bin"],
    ["ghcr.io/org/app:v1:/app/config.yaml", "ghcr.io/org/app/_tags/v1/rootfs/app/config.yaml"],
    [`ghcr.io/org/app@sha256:${hex}:/app`, `ghcr.io/org/app/_manifests/sha256:${hex}/rootfs/app`],
    [`ghcr.io/org/app:v1@sha256:${hex}:/app`, `ghcr.io/org/app/_manifests/sha256:${hex}/rootfs/app`],
    ["127.0.0.1:5000/team/app:v1:/etc", "127.0.0.1:5000/team/app/_tags/v1/rootfs/etc"],
    ["127.0.0.1:5000/team/app:/etc", "127.0.0.1:5000/team/app/_tags/latest/rootfs/etc"],
    ["localhost:5000/app:/etc/", "localhost:5000/app/_tags/latest/rootfs/etc"],
    ["[::1]:5000/app:v2:/etc", "[::1]:5000/app/_tags/v2/rootfs/etc"],
    ["index.docker.io/library/alpine:3:/etc", "docker.io/library/alpine/_tags/3/rootfs/etc"],
    ["host:5000/repo:tag:/a:/b", "host:5000/repo/_tags/tag/rootfs/a:/b"],
    ["debian:/etc/../usr/./lib", "docker.io/library/debian/_tags/latest/rootfs/usr/lib"],
    ["debian:/../../etc", "docker.io/library/debian/_tags/latest/rootfs/etc"],
    // Image references without a path: the image folder.
    ["debian:bookworm", "docker.io/library/debian/_tags/bookworm"],
    ["debian", "docker.io/library/debian/_tags/latest"],
    ["node:20", "docker.io/library/node/_tags/20"],
    ["127.0.0.1:5000/team/app:v1", "127.0.0.1:5000/team/app/_tags/v1"],
    [`127.0.0.1:5000/team/app@sha256:${hex}`, `127.0.0.1:5000/team/app/_manifests/sha256:${hex}`],
    // Tree paths.
    ["/", ""],
    ["/docker.io/library/debian/_tags/bookworm/rootfs/etc", "docker.io/library/debian/_tags/bookworm/rootfs/etc"],
    ["docker.io/library/debian/_tags/bookworm/rootfs/etc", "docker.io/library/debian/_tags/bookworm/rootfs/etc"],
    ["docker.io/library/debian/_tags/bookworm/rootfs/a:/b", "docker.io/library/debian/_tags/bookworm/rootfs/a:/b"],
    ["docker.io/x/_tags/v1/rootfs/etc/a:b", "docker.io/x/_tags/v1/rootfs/etc/a:b"],
    ["127.0.0.1:5000", "127.0.0.1:5000"],
    ["localhost:5000", "localhost:5000"],
    ["ghcr.io", "ghcr.io"],
    ["ghcr.io/org/app", "ghcr.io/org/app"],
    ["127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app"],
    ["docker.io/library/debian/", "docker.io/library/debian"],
    ["work", "work"],
    ["work/work", "work/work"],
    ["work/work/_tags/v1/rootfs/etc", "work/work/_tags/v1/rootfs/etc"],
    ["//docker.io//library/./debian/", "docker.io/library/debian"],
    ["/docker.io/../ghcr.io", "ghcr.io"],
  ])("%s", (text, expected) => {
    const segments = parseTreePath(text, sources).segments;
    expect(segments.join("/")).toBe(expected);
  });

  it.each([
    ["127.0.0.1:5000/team/app:v1:/etc/", "127.0.0.1:5000/team/app:v1:/etc"],
    ["debian:/", "debian:/"],
    ["debian://etc", "debian:/etc"],
    ["debian:bookworm", "/docker.io/library/debian/_tags/bookworm"],
    ["docker.io/library/debian/_tags/x/", "docker.io/library/debian/_tags/x"],
    ["/", "/"],
    ["///", "/"],
  ])("prints %s as %s", (text, display) => {
    expect(parseTreePath(text, sources).display).toBe(display);
  });

  it("keeps the image folder of a reference with a path", () => {
    const location = parseTreePath("127.0.0.1:5000/team/app:/etc", sources);
    expect(location.image?.reference).toBe("127.0.0.1:5000/team/app");
    expect(location.image?.folder.join("/")).toBe("127.0.0.1:5000/team/app/_tags/latest");
  });

  it("rejects an empty path", () => {
    expect(() => parseTreePath("", sources)).toThrow(UsageError);
  });

  it.each(["Debian:/etc", "debian:bad tag:/etc", "ghcr.io/org/app@sha256:abc:/x", `${hex}:/etc`])(
    "rejects the reference in %s",
    (text) => {
      expect(() => parseTreePath(text, sources)).toThrow(RegdavError);
      expect(() => parseTreePath(text, sources)).toThrow(/invalid image reference/);
    },
  );
});

describe("normalizeSegments", () => {
  it("drops empty and dot segments", () => {
    expect(normalizeSegments("/a//./b/")).toEqual(["a", "b"]);
  });

  it("stops dot-dot at the start", () => {
    expect(normalizeSegments("../a/../../b")).toEqual(["b"]);
  });
});

describe("joinDisplay", () => {
  it("adds one slash", () => {
    expect(joinDisplay("a:/etc", "x")).toBe("a:/etc/x");
    expect(joinDisplay("a:/", "etc")).toBe("a:/etc");
    expect(joinDisplay("/", "ghcr.io")).toBe("/ghcr.io");
  });
});
