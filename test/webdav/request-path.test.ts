import { describe, expect, it } from "vitest";
import { RegdavError } from "../../src/errors.js";
import { parseRequestPath } from "../../src/webdav/request-path.js";

describe("parseRequestPath", () => {
  const good: Array<[string, string[], boolean]> = [
    ["/", [], false],
    ["/a", ["a"], false],
    ["/a/", ["a"], true],
    ["/a%23b/what%3F", ["a#b", "what?"], false],
    ["/100%25/sp%20ace/", ["100%", "sp ace"], true],
    ["/%C3%BCn%C3%AF", ["ünï"], false],
    ["/quote%22s/%3Ctag%3E%26amp", ['quote"s', "<tag>&amp"], false],
    ["//a//b", ["a", "b"], false],
    ["/a?x=1#", ["a"], false],
    ["/...", ["..."], false],
    ["/.hidden", [".hidden"], false],
    ["http://host:8080/a/b/", ["a", "b"], true],
    ["http://host", [], false],
    ["/./127.0.0.1:5000/", ["127.0.0.1:5000"], true],
    ["/a/./b", ["a", "b"], false],
    ["/%2e/a", ["a"], false],
  ];

  for (const [target, segments, trailingSlash] of good) {
    it(`decodes ${target}`, () => {
      expect(parseRequestPath(target)).toEqual({ segments, trailingSlash });
    });
  }

  const bad = [
    "/%zz",
    "/%",
    "/a%2",
    "/%00",
    "/%1F",
    "/%7F",
    "/%C2%85",
    "/a%2Fb",
    "/a\\b",
    "/%5C",
    "/..",
    "/%2E%2e",
    "/%FF",
    "/a#b",
    "/a b",
    "*",
  ];

  for (const target of bad) {
    it(`rejects ${target}`, () => {
      expect(() => parseRequestPath(target)).toThrow(RegdavError);
      try {
        parseRequestPath(target);
      } catch (error) {
        expect((error as RegdavError).code).toBe("BAD_REQUEST");
        expect((error as RegdavError).httpStatus).toBe(400);
      }
    });
  }
});
