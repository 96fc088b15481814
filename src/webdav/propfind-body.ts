import sax from "sax";

import { RegdavError } from "../errors.js";
import { checkPropfindElements } from "./request-guards.js";

export const DAV_NAMESPACE = "DAV:";

/** A property name: namespace URI (`""` for none) and local name. */
export interface PropertyName {
  namespace: string;
  local: string;
}

/**
 * The properties a PROPFIND body requests (RFC 4918, section 14.20).
 * `include` lists the names that an allprop request adds to the default ones.
 */
export type PropfindRequest =
  | { kind: "allprop"; include: PropertyName[] }
  | { kind: "propname" }
  | { kind: "prop"; names: PropertyName[] };

/** One element of a parsed body, without attributes, which no PROPFIND element uses. */
interface XmlElement {
  namespace: string;
  local: string;
  children: XmlElement[];
  /** Character data directly inside the element, CDATA included. */
  text: string;
}

const ALLPROP: PropfindRequest = { kind: "allprop", include: [] };

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Parses a PROPFIND request body. An empty body is allprop, as RFC 4918
 * section 9.1 requires, and so is one of only whitespace.
 *
 * Throws RegdavError BAD_REQUEST, naming the problem, for XML that is not
 * well-formed or not namespace-well-formed, as section 8.2 requires. It
 * also throws for a body that is not UTF-8, a DOCTYPE, a root other than
 * DAV:propfind, a propfind without exactly one of DAV:prop, DAV:allprop and
 * DAV:propname, text where only elements belong, and an empty DAV:prop.
 * Unknown child elements of DAV:propfind are ignored, so an extension of
 * the request does not fail it.
 */
export function parsePropfindBody(bytes: Uint8Array): PropfindRequest {
  const text = decodeBody(bytes);
  if (text.trim() === "") return ALLPROP;
  checkPropfindElements(text);
  return interpretPropfind(parseXml(text));
}

function decodeBody(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalidBody("it is not valid UTF-8");
  }
}

/**
 * Parses `text` with sax in strict mode with namespaces, into a tree of
 * elements. sax expands only the five predefined entities and character
 * references, and a DOCTYPE is rejected, so no entity can grow the input.
 */
function parseXml(text: string): XmlElement {
  const parser = sax.parser(true, { xmlns: true });
  const open: XmlElement[] = [];
  let root: XmlElement | undefined;

  const fail = (problem: string): never => {
    throw invalidBody(`${problem} at line ${parser.line + 1}, column ${parser.column + 1}`);
  };
  parser.onerror = (error) => fail(`the XML is not well-formed: ${firstLineOf(error.message)}`);
  parser.ondoctype = () => fail("it contains a DOCTYPE, which is not accepted");
  parser.onopentag = (tag) => {
    const { name, uri, local } = tag as sax.QualifiedTag;
    // sax splits `a:b:c` into prefix a and local b, dropping the rest, so such names are rejected.
    if (name.split(":").length > 2) {
      fail(`the element name ${JSON.stringify(name)} has more than one colon`);
    }
    const element: XmlElement = { namespace: uri, local, children: [], text: "" };
    const parent = open.at(-1);
    if (parent !== undefined) parent.children.push(element);
    else if (root === undefined) root = element;
    else fail("the XML has a second root element");
    open.push(element);
  };
  parser.onclosetag = () => {
    open.pop();
  };
  const addText = (characters: string) => {
    const current = open.at(-1);
    if (current !== undefined) current.text += characters;
  };
  parser.ontext = addText;
  parser.oncdata = addText;

  parser.write(text).close();
  if (root === undefined) return fail("the XML has no root element");
  return root;
}

function interpretPropfind(root: XmlElement): PropfindRequest {
  if (!isDav(root, "propfind")) {
    throw invalidBody(`the root element is ${nameOf(root)}; expected DAV:propfind`);
  }
  checkNoText(root);

  const choices = root.children.filter(
    (child) => isDav(child, "prop") || isDav(child, "allprop") || isDav(child, "propname"),
  );
  const includes = root.children.filter((child) => isDav(child, "include"));
  const choice = choices[0];
  if (choice === undefined) {
    throw invalidBody("DAV:propfind contains none of DAV:prop, DAV:allprop and DAV:propname");
  }
  if (choices.length > 1) {
    const names = choices.map(nameOf).join(", ");
    throw invalidBody(
      "DAV:propfind must contain exactly one of DAV:prop, DAV:allprop and DAV:propname, " +
        `but contains ${names}`,
    );
  }
  if (includes.length > 0 && choice.local !== "allprop") {
    throw invalidBody(`DAV:include is allowed only with DAV:allprop, not with ${nameOf(choice)}`);
  }
  if (includes.length > 1) throw invalidBody("DAV:propfind contains more than one DAV:include");

  switch (choice.local) {
    case "propname":
      return { kind: "propname" };
    case "allprop":
      return { kind: "allprop", include: includes[0] ? propertyNamesIn(includes[0]) : [] };
    default: {
      const names = propertyNamesIn(choice);
      if (names.length === 0) throw invalidBody("DAV:prop names no property");
      return { kind: "prop", names };
    }
  }
}

/** Returns the property names that the children of DAV:prop or DAV:include give, once each. */
function propertyNamesIn(element: XmlElement): PropertyName[] {
  checkNoText(element);
  const names = new Map<string, PropertyName>();
  for (const child of element.children) {
    const { namespace, local } = child;
    names.set(`{${namespace}}${local}`, { namespace, local });
  }
  return [...names.values()];
}

function checkNoText(element: XmlElement): void {
  const text = element.text.trim();
  if (text === "") return;
  const excerpt = text.length > 40 ? text.slice(0, 40) + "..." : text;
  throw invalidBody(
    `${nameOf(element)} contains the text ${JSON.stringify(excerpt)}; it may contain only elements`,
  );
}

function isDav(element: XmlElement, local: string): boolean {
  return element.namespace === DAV_NAMESPACE && element.local === local;
}

/** Names an element for a message: `DAV:local`, `{uri}local` (Clark notation) or `<local>`. */
function nameOf(element: XmlElement): string {
  if (element.namespace === DAV_NAMESPACE) return `DAV:${element.local}`;
  if (element.namespace === "") return `<${element.local}> without a namespace`;
  return `{${element.namespace}}${element.local}`;
}

function firstLineOf(message: string): string {
  return message.split("\n", 1)[0] ?? message;
}

function invalidBody(problem: string): RegdavError {
  return new RegdavError("BAD_REQUEST", `invalid PROPFIND body: ${problem}`);
}
