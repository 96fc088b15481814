import sax from "sax";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { MemoryTree } from "./memory-tree.js";
import { propfind, startShare, type RunningShare } from "./share-fixture.js";

/**
 * PROPFIND request bodies and the multistatus they get, checked by parsing
 * every response with sax in strict, namespace-aware mode, so a response
 * that is not namespace-well-formed XML fails the test.
 */

const MODIFIED = new Date("2023-01-02T03:04:05Z");

/** Names whose hrefs need percent-encoding, with the encoding each must get. */
const ENCODED_NAMES: [string, string][] = [
  ["a#b", "a%23b"],
  ["what?", "what%3F"],
  ["100%", "100%25"],
  ["sp ace", "sp%20ace"],
  ["ünï", "%C3%BCn%C3%AF"],
  ["日本", "%E6%97%A5%E6%9C%AC"],
  ["<&>", "%3C%26%3E"],
];

const FILE_PROPERTIES = [
  "creationdate",
  "displayname",
  "getcontentlength",
  "getcontenttype",
  "getetag",
  "getlastmodified",
  "lockdiscovery",
  "resourcetype",
  "supportedlock",
];
const FOLDER_PROPERTIES = FILE_PROPERTIES.filter(
  (name) => name !== "getcontentlength" && name !== "getcontenttype",
);

interface Property {
  /** Concatenated text content, entities decoded. */
  text: string;
  /** Clark names of the child elements. */
  children: string[];
}

interface Propstat {
  status: string;
  /** Properties by Clark name, `{namespace}local`. */
  props: Map<string, Property>;
}

interface DavResponse {
  href: string;
  propstats: Propstat[];
}

let share: RunningShare;

beforeAll(async () => {
  const tree = new MemoryTree();
  tree.addFolder(["docs"], { modified: MODIFIED });
  tree.addFile(["docs", "readme.txt"], "hello\n", {
    modified: MODIFIED,
    contentType: "text/plain",
    etag: '"readme-1"',
  });
  tree.addFolder(["docs", "sub dir#?"], { modified: MODIFIED });
  tree.addFile(["docs", "sub dir#?", "inner%.txt"], "inner", { modified: MODIFIED });
  tree.addFolder(["names"]);
  for (const [name] of ENCODED_NAMES) tree.addFile(["names", name], name);
  tree.addFile(["small-broken.bin"], Buffer.alloc(4096, 7), { failAfterBytes: 1000 });
  share = await startShare({ tree });
});

afterAll(() => share.close());

const DAV = "DAV:";

function clark(namespace: string, local: string): string {
  return `{${namespace}}${local}`;
}

function dav(local: string): string {
  return clark(DAV, local);
}

/** Parses a multistatus body; throws on XML that is not well-formed. */
function parseMultistatus(xml: string): DavResponse[] {
  const parser = sax.parser(true, { xmlns: true });
  const responses: DavResponse[] = [];
  const stack: string[] = [];
  let response: DavResponse | undefined;
  let propstat: Propstat | undefined;
  let property: Property | undefined;
  let text = "";

  parser.onerror = (error) => {
    throw error;
  };
  parser.onopentag = (tag) => {
    const { uri, local } = tag as sax.QualifiedTag;
    const name = clark(uri, local);
    const parent = stack.at(-1);
    stack.push(name);
    text = "";
    if (name === dav("response")) {
      response = { href: "", propstats: [] };
      responses.push(response);
    } else if (name === dav("propstat")) {
      propstat = { status: "", props: new Map() };
      response?.propstats.push(propstat);
    } else if (parent === dav("prop") && propstat !== undefined) {
      property = { text: "", children: [] };
      propstat.props.set(name, property);
    } else if (property !== undefined) {
      property.children.push(name);
    }
  };
  parser.ontext = (characters) => {
    text += characters;
    if (property !== undefined) property.text += characters;
  };
  parser.onclosetag = () => {
    const name = stack.pop();
    const parent = stack.at(-1);
    if (name === dav("href") && parent === dav("response") && response) response.href = text;
    if (name === dav("status") && parent === dav("propstat") && propstat) propstat.status = text;
    if (parent === dav("prop")) property = undefined;
  };
  parser.write(xml).close();
  return responses;
}

async function propfindXml(path: string, depth: string, body?: string): Promise<DavResponse[]> {
  const response = await propfind(`${share.origin}${path}`, depth, body ? { body } : {});
  const text = await response.text();
  expect(response.status, text).toBe(207);
  expect(response.headers.get("content-type")).toBe("application/xml; charset=utf-8");
  return parseMultistatus(text);
}

function onlyResponse(responses: DavResponse[]): DavResponse {
  expect(responses).toHaveLength(1);
  return responses[0]!;
}

function propstatWith(response: DavResponse, status: string): Propstat | undefined {
  return response.propstats.find((candidate) => candidate.status === status);
}

const OK = "HTTP/1.1 200 OK";
const NOT_FOUND = "HTTP/1.1 404 Not Found";

function sortedNames(propstat: Propstat | undefined): string[] {
  return [...(propstat?.props.keys() ?? [])].sort();
}

describe("PROPFIND allprop", () => {
  it("empty body lists every live property of a file", async () => {
    const response = onlyResponse(await propfindXml("/docs/readme.txt", "0"));
    expect(response.href).toBe("/docs/readme.txt");
    expect(response.propstats).toHaveLength(1);
    const found = propstatWith(response, OK);
    expect(sortedNames(found)).toEqual(FILE_PROPERTIES.map(dav));

    const props = found!.props;
    expect(props.get(dav("getcontentlength"))?.text).toBe("6");
    expect(props.get(dav("getcontenttype"))?.text).toBe("text/plain");
    expect(props.get(dav("getetag"))?.text).toBe('"readme-1"');
    expect(props.get(dav("getlastmodified"))?.text).toBe("Mon, 02 Jan 2023 03:04:05 GMT");
    expect(props.get(dav("creationdate"))?.text).toBe("2023-01-02T03:04:05Z");
    expect(props.get(dav("displayname"))?.text).toBe("readme.txt");
    expect(props.get(dav("resourcetype"))?.children).toEqual([]);
    expect(props.get(dav("supportedlock"))?.children).toEqual([]);
    expect(props.get(dav("lockdiscovery"))?.children).toEqual([]);
  });

  it("folder has no length or media type", async () => {
    const response = onlyResponse(await propfindXml("/docs/", "0"));
    expect(response.href).toBe("/docs/");
    const found = propstatWith(response, OK);
    expect(sortedNames(found)).toEqual(FOLDER_PROPERTIES.map(dav));
    expect(found?.props.get(dav("resourcetype"))?.children).toEqual([dav("collection")]);
  });

  it("allprop body equals empty body", async () => {
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';
    expect(await propfindXml("/docs/", "1", body)).toEqual(await propfindXml("/docs/", "1"));
  });

  it("whitespace-only body is allprop", async () => {
    expect(await propfindXml("/docs/", "1", " \r\n\t")).toEqual(await propfindXml("/docs/", "1"));
  });

  it("include adds unknown names as 404", async () => {
    const body =
      '<propfind xmlns="DAV:"><allprop/><include>' +
      '<x:color xmlns:x="urn:example:x"/><getetag/></include></propfind>';
    const response = onlyResponse(await propfindXml("/docs/readme.txt", "0", body));
    expect(sortedNames(propstatWith(response, OK))).toEqual(FILE_PROPERTIES.map(dav));
    expect(sortedNames(propstatWith(response, NOT_FOUND))).toEqual([
      clark("urn:example:x", "color"),
    ]);
  });
});

describe("PROPFIND propname", () => {
  const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>';

  it("lists names without values", async () => {
    const responses = await propfindXml("/docs/", "1", body);
    const file = responses.find((response) => response.href === "/docs/readme.txt");
    const folder = responses.find((response) => response.href === "/docs/");
    expect(sortedNames(propstatWith(file!, OK))).toEqual(FILE_PROPERTIES.map(dav));
    expect(sortedNames(propstatWith(folder!, OK))).toEqual(FOLDER_PROPERTIES.map(dav));
    for (const response of responses) {
      for (const property of propstatWith(response, OK)!.props.values()) {
        expect(property.text).toBe("");
        expect(property.children).toEqual([]);
      }
    }
  });
});

describe("PROPFIND named properties", () => {
  it("unknown names go to a 404 propstat", async () => {
    const body =
      '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:nosuchprop/>' +
      '<x:color xmlns:x="urn:example:x&amp;y"/><bare xmlns=""/></D:prop></D:propfind>';
    const response = onlyResponse(await propfindXml("/docs/readme.txt", "0", body));
    expect(response.propstats).toHaveLength(2);
    expect(sortedNames(propstatWith(response, OK))).toEqual([dav("getetag")]);
    expect(propstatWith(response, OK)?.props.get(dav("getetag"))?.text).toBe('"readme-1"');
    expect(sortedNames(propstatWith(response, NOT_FOUND))).toEqual(
      [dav("nosuchprop"), clark("urn:example:x&y", "color"), clark("", "bare")].sort(),
    );
  });

  it("file-only properties are 404 on a folder", async () => {
    const body =
      '<propfind xmlns="DAV:"><prop><getcontentlength/><resourcetype/></prop></propfind>';
    const response = onlyResponse(await propfindXml("/docs/", "0", body));
    expect(sortedNames(propstatWith(response, OK))).toEqual([dav("resourcetype")]);
    expect(sortedNames(propstatWith(response, NOT_FOUND))).toEqual([dav("getcontentlength")]);
  });

  it("all known names give only a 200 propstat", async () => {
    const names = FILE_PROPERTIES.map((name) => `<${name}/>`).join("");
    const body = `<propfind xmlns="DAV:"><prop>${names}</prop></propfind>`;
    const response = onlyResponse(await propfindXml("/docs/readme.txt", "0", body));
    expect(response.propstats).toHaveLength(1);
    expect(sortedNames(propstatWith(response, OK))).toEqual(FILE_PROPERTIES.map(dav));
  });

  it("repeated names are listed once", async () => {
    const body = '<propfind xmlns="DAV:"><prop><getetag/><getetag/></prop></propfind>';
    const response = onlyResponse(await propfindXml("/docs/readme.txt", "0", body));
    expect(sortedNames(propstatWith(response, OK))).toEqual([dav("getetag")]);
  });

  it("values match the GET headers", async () => {
    const body =
      '<propfind xmlns="DAV:"><prop><getetag/><getlastmodified/>' +
      "<getcontentlength/><getcontenttype/></prop></propfind>";
    const response = onlyResponse(await propfindXml("/docs/readme.txt", "0", body));
    const props = propstatWith(response, OK)!.props;
    const get = await fetch(`${share.origin}/docs/readme.txt`);
    await get.arrayBuffer();
    expect(props.get(dav("getetag"))?.text).toBe(get.headers.get("etag"));
    expect(props.get(dav("getlastmodified"))?.text).toBe(get.headers.get("last-modified"));
    expect(props.get(dav("getcontentlength"))?.text).toBe(get.headers.get("content-length"));
    expect(props.get(dav("getcontenttype"))?.text).toBe(get.headers.get("content-type"));
  });
});

describe("PROPFIND malformed bodies", () => {
  const cases: [string, string, RegExp][] = [
    ["unclosed tag", "<D:propfind xmlns:D='DAV:'><D:prop>", /not well-formed: Unclosed/],
    ["not XML", '{"json": true}', /not well-formed: Non-whitespace before first tag/],
    ["control bytes", "\u0000\u0001", /not well-formed/],
    ["text after the root", "<propfind xmlns='DAV:'><allprop/></propfind>x", /outside of root/],
    ["second root", "<propfind xmlns='DAV:'><allprop/></propfind><a/>", /second root/],
    ["unknown entity", "<propfind xmlns='DAV:'><prop>&x;</prop></propfind>", /entity/],
    ["DOCTYPE", "<!DOCTYPE p><propfind xmlns='DAV:'><allprop/></propfind>", /DOCTYPE/],
    [
      "prefix bound to nothing",
      '<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>',
      /Unbound namespace prefix: "bar:foo"/,
    ],
    ["root without namespace", "<propfind><allprop/></propfind>", /root element is <propfind>/],
    [
      "root in another namespace",
      "<propfind xmlns='urn:x'><allprop/></propfind>",
      /root element is \{urn:x\}propfind; expected DAV:propfind/,
    ],
    ["no choice", "<propfind xmlns='DAV:'/>", /contains none of DAV:prop, DAV:allprop/],
    [
      "two choices",
      "<propfind xmlns='DAV:'><allprop/><propname/></propfind>",
      /exactly one .* but contains DAV:allprop, DAV:propname/,
    ],
    [
      "include without allprop",
      "<propfind xmlns='DAV:'><prop><getetag/></prop><include/></propfind>",
      /DAV:include is allowed only with DAV:allprop/,
    ],
    [
      "text in prop",
      "<propfind xmlns='DAV:'><prop>text</prop></propfind>",
      /DAV:prop contains the text "text"/,
    ],
    ["empty prop", "<propfind xmlns='DAV:'><prop/></propfind>", /DAV:prop names no property/],
    [
      "name with two colons",
      "<propfind xmlns='DAV:'><prop><a:b:c xmlns:a='urn:a'/></prop></propfind>",
      /"a:b:c" has more than one colon/,
    ],
  ];

  for (const [label, body, message] of cases) {
    it(`${label} is 400`, async () => {
      const response = await propfind(`${share.origin}/docs/`, "0", { body });
      const text = await response.text();
      expect(response.status).toBe(400);
      expect(text).toMatch(/^invalid PROPFIND body: /);
      expect(text).toMatch(message);
    });
  }

  it("invalid UTF-8 is 400", async () => {
    const start = Buffer.from("<propfind xmlns='DAV:'><prop><a");
    const body = Buffer.concat([start, Buffer.from([0xff])]);
    const response = await propfind(`${share.origin}/docs/`, "0", { body });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("invalid PROPFIND body: it is not valid UTF-8");
  });

  it("well-formed error names line and column", async () => {
    const body = "<propfind xmlns='DAV:'>\n<prop>\n<getetag></prop>";
    const response = await propfind(`${share.origin}/docs/`, "0", { body });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/at line 3, column \d+/);
  });

  it("bad body on a missing path is still 400", async () => {
    const response = await propfind(`${share.origin}/no/such/path`, "0", { body: "<x" });
    expect(response.status).toBe(400);
    await response.text();
  });

  it("BOM before the body is accepted", async () => {
    const body = "\ufeff<propfind xmlns='DAV:'><propname/></propfind>";
    const response = onlyResponse(await propfindXml("/docs/", "0", body));
    expect(sortedNames(propstatWith(response, OK))).toEqual(FOLDER_PROPERTIES.map(dav));
  });
});

describe("PROPFIND depth", () => {
  it("depth 0 lists only the folder", async () => {
    const responses = await propfindXml("/docs", "0");
    expect(responses.map((response) => response.href)).toEqual(["/docs/"]);
  });

  it("depth 1 lists the folder then its children", async () => {
    const responses = await propfindXml("/docs/", "1");
    expect(responses.map((response) => response.href)).toEqual([
      "/docs/",
      "/docs/readme.txt",
      "/docs/sub%20dir%23%3F/",
    ]);
  });

  it("depth 1 on a file lists only the file", async () => {
    const responses = await propfindXml("/docs/readme.txt", "1");
    expect(responses.map((response) => response.href)).toEqual(["/docs/readme.txt"]);
  });

  it("depth 1 inside an encoded folder", async () => {
    const responses = await propfindXml("/docs/sub%20dir%23%3F/", "1");
    expect(responses.map((response) => response.href)).toEqual([
      "/docs/sub%20dir%23%3F/",
      "/docs/sub%20dir%23%3F/inner%25.txt",
    ]);
    const displayName = propstatWith(responses[0]!, OK)?.props.get(dav("displayname"));
    expect(displayName?.text).toBe("sub dir#?");
  });

  it("root href is a single slash", async () => {
    const responses = await propfindXml("/", "1");
    expect(responses[0]?.href).toBe("/");
    expect(responses.map((response) => response.href)).toContain("/docs/");
  });
});

describe("PROPFIND hrefs", () => {
  it("each name is percent-encoded", async () => {
    const responses = await propfindXml("/names/", "1");
    const hrefs = responses.map((response) => response.href);
    for (const [name, encoded] of ENCODED_NAMES) {
      expect(hrefs, name).toContain(`/names/${encoded}`);
    }
    expect(responses).toHaveLength(ENCODED_NAMES.length + 1);
  });

  it("each href requests its own file", async () => {
    const responses = await propfindXml("/names/", "1");
    for (const response of responses.slice(1)) {
      const displayName = propstatWith(response, OK)?.props.get(dav("displayname"))?.text;
      const get = await fetch(`${share.origin}${response.href}`);
      expect(get.status, response.href).toBe(200);
      expect(await get.text(), response.href).toBe(displayName);
    }
  });
});

describe("GET small file", () => {
  it("failing read is an error status", async () => {
    const response = await fetch(`${share.origin}/small-broken.bin`);
    expect(response.status).toBe(502);
    expect(await response.text()).toContain("layer content does not match its digest");
  });

  it("server keeps serving after the failure", async () => {
    await (await fetch(`${share.origin}/small-broken.bin`)).arrayBuffer();
    const response = await fetch(`${share.origin}/docs/readme.txt`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("hello\n");
  });
});
