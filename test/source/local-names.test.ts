import { describe, expect, it } from "vitest";

import {
  defaultRepositoryFor,
  parseImageReference,
  parseRefName,
  validateSourceName,
} from "../../src/source/local-names.js";
import { parseSourceOption } from "../../src/source/open-local-source.js";

describe("parseRefName", () => {
  const cases: [value: string, repository: string, tag: string | undefined][] = [
    ["v1", "work", "v1"],
    ["latest", "work", "latest"],
    ["1.0.0-vendor.0", "work", "1.0.0-vendor.0"],
    [
      "sha256-7ceb9b6bcc274697d0c38be6214b50cec79d601bc61708747d3f6cb772f6c6fa.meta",
      "work",
      "sha256-7ceb9b6bcc274697d0c38be6214b50cec79d601bc61708747d3f6cb772f6c6fa.meta",
    ],
    ["alpine:3", "library/alpine", "3"],
    ["docker.io/alpine:3", "library/alpine", "3"],
    ["docker.io/library/alpine:3", "library/alpine", "3"],
    ["index.docker.io/user/app:1", "user/app", "1"],
    ["user/app", "user/app", "latest"],
    ["ghcr.io/org/tool:v2", "ghcr.io/org/tool", "v2"],
    ["Registry.Example.com/team/app:x", "registry.example.com/team/app", "x"],
    ["localhost/app:1", "localhost/app", "1"],
    ["Upper/app:1", "upper/app", "1"],
    ["localhost:5000/app:1", "localhost_5000/app", "1"],
    ["127.0.0.1:5000/team/app:1", "127.0.0.1_5000/team/app", "1"],
    [`app@sha256:${"a".repeat(64)}`, "library/app", undefined],
  ];

  it.each(cases)("reads %s", (value, repository, tag) => {
    expect(parseRefName(value, "work")).toEqual(
      tag === undefined ? { repository } : { repository, tag },
    );
  });

  it.each([
    "has space",
    "-leading-dash",
    "x".repeat(129),
    "team/UPPER:1",
    "[::1]:5000/app:1",
    "app:bad tag",
  ])("rejects %s", (value) => {
    expect(() => parseRefName(value, "work")).toThrow(
      expect.objectContaining({ code: "BAD_REQUEST" }),
    );
  });
});

describe("parseImageReference", () => {
  it("defaults to library/ and latest", () => {
    expect(parseImageReference("web")).toEqual({ repository: "library/web", tag: "latest" });
  });

  it("names the value in its error", () => {
    expect(() => parseImageReference("Bad Name")).toThrow(/"Bad Name"/);
  });
});

describe("validateSourceName", () => {
  it.each(["work", "Work", "my-images", "my_images", "a__b", "v2"])("accepts %s", (name) => {
    expect(validateSourceName(name)).toBe(name);
  });

  it.each([
    ["", /empty/],
    ["docker.io", /registry host/],
    ["host:5000", /registry host/],
    ["localhost", /localhost/],
    ["LocalHost", /localhost/],
    ["_private", /letters and digits/],
    ["trailing-", /letters and digits/],
    ["a/b", /letters and digits/],
    ["x".repeat(256), /longer than/],
  ])("rejects %j", (name, reason) => {
    expect(() => validateSourceName(name)).toThrow(reason);
    expect(() => validateSourceName(name)).toThrow(
      expect.objectContaining({ code: "BAD_REQUEST" }),
    );
  });
});

describe("defaultRepositoryFor", () => {
  it("lowercases the source name", () => {
    expect(defaultRepositoryFor("MyImages")).toBe("myimages");
  });
});

describe("parseSourceOption", () => {
  it("splits at the first =", () => {
    expect(parseSourceOption("work=./images/a=b.tar")).toEqual({
      name: "work",
      path: "./images/a=b.tar",
    });
  });

  it.each([
    ["work", /NAME=PATH/],
    ["work=", /path is empty/],
    ["=./x.tar", /empty/],
    ["docker.io=./x.tar", /registry host/],
  ])("rejects %j", (value, reason) => {
    expect(() => parseSourceOption(value)).toThrow(reason);
  });
});
