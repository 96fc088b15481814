import { v2 as webdav } from "webdav-server";
import { log } from "../log.js";
import type { NodeInfo, VirtualTree } from "../tree/virtual-tree.js";
import { contentTypeOf, entityTagOf, timeOf } from "./node-metadata.js";
import { isNodeMissing, NodeLookup } from "./node-lookup.js";
import { isServableName } from "./segment-rules.js";

type ReturnCallback<T> = webdav.ReturnCallback<T>;
type ContextInfo = webdav.IContextInfo;

/** webdav-server stores this serializer, but the share never saves or loads state. */
const unusedSerializer: webdav.FileSystemSerializer = {
  uid: () => "regdav-virtual-tree",
  serialize: (_fileSystem, callback) => callback(undefined, {}),
  unserialize: (_data, callback) =>
    callback(new Error("the regdav tree cannot be restored from saved state")),
};

/**
 * A read-only webdav-server FileSystem backed by a VirtualTree, used only
 * for PROPFIND. It implements the properties webdav-server reads (type,
 * size, modification date, ETag, media type, children) and reports no locks
 * and no dead properties.
 *
 * Each call goes through the NodeLookup attached to the request, so one
 * PROPFIND shares its tree calls. Not-found becomes webdav-server's
 * ResourceNotFound. Other errors are recorded on the lookup, because
 * webdav-server would turn them into a bare 500 or drop them.
 */
export class TreeFileSystem extends webdav.FileSystem {
  private readonly lookups = new WeakMap<object, NodeLookup>();

  constructor(private readonly tree: VirtualTree) {
    super(unusedSerializer);
  }

  /** Makes every call for `request`, the object handed to webdav-server, use `lookup`. */
  attach(request: object, lookup: NodeLookup): void {
    this.lookups.set(request, lookup);
  }

  protected override _type(
    path: webdav.Path,
    info: webdav.TypeInfo,
    callback: ReturnCallback<webdav.ResourceType>,
  ): void {
    this.readFromNode(path, info, callback, (node) =>
      node.type === "directory" ? webdav.ResourceType.Directory : webdav.ResourceType.File,
    );
  }

  protected override _size(
    path: webdav.Path,
    info: webdav.SizeInfo,
    callback: ReturnCallback<number>,
  ): void {
    this.readFromNode(path, info, callback, (node) => node.size);
  }

  protected override _lastModifiedDate(
    path: webdav.Path,
    info: webdav.LastModifiedDateInfo,
    callback: ReturnCallback<number>,
  ): void {
    this.readFromNode(path, info, callback, (node) => timeOf(node.modified));
  }

  protected override _etag(
    path: webdav.Path,
    info: webdav.ETagInfo,
    callback: ReturnCallback<string>,
  ): void {
    this.readFromNode(path, info, callback, entityTagOf);
  }

  protected override _mimeType(
    path: webdav.Path,
    info: webdav.MimeTypeInfo,
    callback: ReturnCallback<string>,
  ): void {
    this.readFromNode(path, info, callback, contentTypeOf);
  }

  /** Lists the children, leaving out names that the share would reject in a request path. */
  protected override _readDir(
    path: webdav.Path,
    info: webdav.ReadDirInfo,
    callback: ReturnCallback<string[]>,
  ): void {
    const lookup = this.lookupFor(info);
    const names = lookup.list(path.paths).then((children) => servableNames(path, children));
    deliver(names, callback, (error) => this.translateError(lookup, error));
  }

  protected override _availableLocks(
    _path: webdav.Path,
    _info: webdav.AvailableLocksInfo,
    callback: ReturnCallback<webdav.LockKind[]>,
  ): void {
    callback(undefined, []);
  }

  protected override _lockManager(
    _path: webdav.Path,
    _info: webdav.LockManagerInfo,
    callback: ReturnCallback<webdav.ILockManager>,
  ): void {
    callback(undefined, new webdav.LocalLockManager());
  }

  protected override _propertyManager(
    _path: webdav.Path,
    _info: webdav.PropertyManagerInfo,
    callback: ReturnCallback<webdav.IPropertyManager>,
  ): void {
    callback(undefined, new webdav.LocalPropertyManager());
  }

  private readFromNode<T>(
    path: webdav.Path,
    info: ContextInfo,
    callback: ReturnCallback<T>,
    read: (node: NodeInfo) => T,
  ): void {
    const lookup = this.lookupFor(info);
    deliver(lookup.stat(path.paths).then(read), callback, (error) =>
      this.translateError(lookup, error),
    );
  }

  /**
   * Returns the lookup attached to the request. webdav-server also makes
   * calls with a context of its own (a type check of the root while it sets
   * up each request). Those get a fresh lookup whose failures are never
   * read, which is harmless because webdav-server ignores that result.
   */
  private lookupFor(info: ContextInfo): NodeLookup {
    const request = (info.context as { request?: object }).request;
    const lookup = request === undefined ? undefined : this.lookups.get(request);
    return lookup ?? new NodeLookup(this.tree);
  }

  private translateError(lookup: NodeLookup, error: unknown): Error {
    lookup.recordFailure(error);
    if (isNodeMissing(error)) return webdav.Errors.ResourceNotFound;
    return error instanceof Error ? error : new Error(String(error));
  }
}

function servableNames(path: webdav.Path, children: NodeInfo[]): string[] {
  const names = children.map((child) => child.name);
  const servable = names.filter(isServableName);
  if (servable.length < names.length) {
    log.debug("left names out of a listing that a request path cannot contain", {
      folder: path.toString(),
      omitted: names.length - servable.length,
    });
  }
  return servable;
}

/**
 * Hands the outcome of `work` to a webdav-server callback. A throw from the
 * callback is logged instead of becoming an unhandled rejection, which would
 * end the process.
 */
function deliver<T>(
  work: Promise<T>,
  callback: ReturnCallback<T>,
  translate: (error: unknown) => Error,
): void {
  work.then(
    (value) => invokeSafely(() => callback(undefined, value)),
    (error: unknown) => invokeSafely(() => callback(translate(error))),
  );
}

function invokeSafely(call: () => void): void {
  try {
    call();
  } catch (error) {
    log.error("webdav-server threw from a file system callback", { error: String(error) });
  }
}
