import { describe, expect, it } from "vitest";

import { nextPageUrl } from "../../src/registry/pagination.js";

const requestUrl = new URL("http://127.0.0.1:5000/v2/_catalog?n=2");

describe("nextPageUrl", () => {
  it.each([
    ['</v2/_catalog?last=b&n=2>; rel="next"', "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"],
    ["</v2/_catalog?last=b&n=2>; rel=next", "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"],
    ['<?last=c>; rel="next"', "http://127.0.0.1:5000/v2/_catalog?last=c"],
    ['<http://127.0.0.1:5000/v2/x?last=1>; REL="Next"', "http://127.0.0.1:5000/v2/x?last=1"],
    ['</first>; rel="prev", </second>; rel="next"', "http://127.0.0.1:5000/second"],
    ['</a,b>; title="x, y"; rel="next"', "http://127.0.0.1:5000/a,b"],
    ['</both>; rel="last next"', "http://127.0.0.1:5000/both"],
  ])("follows %s", (header, expected) => {
    expect(nextPageUrl({ link: header }, requestUrl)?.href).toBe(expected);
  });

  it.each([[undefined], ['</first>; rel="prev"'], ["garbage"], ['</x>; rel="nextpage"']])(
    "stops at %s",
    (header) => {
      const headers = header === undefined ? {} : { link: header };
      expect(nextPageUrl(headers, requestUrl)).toBeUndefined();
    },
  );

  it("reads several Link headers", () => {
    const headers = { link: ['</p>; rel="prev"', '</n>; rel="next"'] };
    expect(nextPageUrl(headers, requestUrl)?.pathname).toBe("/n");
  });
});
