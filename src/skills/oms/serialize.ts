// Hashing a model (a skill folder, or one file) into the OMS resource list: the `files` method (one
// SHA-256 per regular file) and the `shards` method (one SHA-256 per fixed-size byte range), in the
// order the reference implementation lists them, and the root digest over that list.
//
// The walk is where a hostile folder attacks, so it refuses rather than guesses: symbolic links
// unless allowed (and even then any link leaving the folder, or looping), anything that is not a
// regular file or directory, and files or totals beyond the size caps. Files are hashed as streams
// from a descriptor opened without following links and without blocking, then checked to be
// regular, so a file swapped for a link or a fifo after the walk is refused too.

import { createHash } from 'node:crypto';
import { constants, promises as fsp, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { WardenError, q } from '../../errors.js';

/** Paths every signature leaves out, as the reference implementation does. */
export const DEFAULT_IGNORE_PATHS: readonly string[] = ['.git', '.gitattributes', '.github', '.gitignore'];

export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024;
export const DEFAULT_MAX_FILES = 100_000;
/** Resources (files or shards) in one listing; a tiny shard size must not exhaust memory. */
export const MAX_RESOURCES = 1_000_000;
const MAX_DEPTH = 128;
const CHUNK = 1024 * 1024;

export type SerializationMethod = { kind: 'files' } | { kind: 'shards'; shardSize: number };

export interface SerializeOptions {
  method?: SerializationMethod;
  /** Paths relative to the model (or absolute inside it); a path ignores itself and everything below. */
  ignorePaths?: readonly string[];
  /** Follow symbolic links that stay inside the model; refused by default. */
  allowSymlinks?: boolean;
  maxFileBytes?: number;
  maxTotalBytes?: number;
  maxFiles?: number;
}

/** One in-toto resource descriptor of the OMS predicate. */
export interface Resource {
  name: string;
  algorithm: string;
  /** Lowercase hex. */
  digest: string;
}

export interface SerializedModel {
  kind: 'folder' | 'file';
  /** The model's real path. */
  root: string;
  resources: Resource[];
  /** Lowercase hex SHA-256 over the raw resource digests, in listed order. */
  rootDigest: string;
}

interface Ctx {
  root: string;
  ignore: readonly string[];
  allowSymlinks: boolean;
  maxFiles: number;
  found: Array<{ rel: string; abs: string }>;
}

/**
 * A user's ignore path as a model-relative POSIX path: absolute paths must lie inside the model,
 * relative ones are taken from the model root; `..` is refused so nothing outside can be named.
 */
export function normalizeIgnorePath(modelRoot: string, path: string): string {
  let p = path;
  if (isAbsolute(p)) {
    const rel = relative(modelRoot, p);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new WardenError('invalid_argument', `ignore path ${q(path)} is not inside the model`);
    }
    p = rel.split(sep).join('/');
  }
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.length === 0 || parts.includes('..') || p.includes('\0')) {
    throw new WardenError('invalid_argument', `ignore path ${q(path)} is not a path inside the model`);
  }
  return parts.join('/');
}

function isIgnored(rel: string, ignore: readonly string[]): boolean {
  return ignore.some((i) => rel === i || rel.startsWith(`${i}/`));
}

function inside(root: string, target: string): boolean {
  return target === root || target.startsWith(root.endsWith(sep) ? root : root + sep);
}

function fsCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a fifo';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'a device';
  return 'not a regular file';
}

/** Python orders paths by their parts, then shards by numeric start; UTF-8 byte order is code point order. */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i] ?? '', 'utf8'), Buffer.from(pb[i] ?? '', 'utf8'));
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

async function walk(ctx: Ctx, realDir: string, relDir: string, chain: ReadonlySet<string>): Promise<void> {
  if (chain.size > MAX_DEPTH) {
    throw new WardenError('path_refused', `${q(relDir)} is nested more than ${MAX_DEPTH} levels deep`);
  }
  let entries: string[];
  try {
    entries = await fsp.readdir(realDir);
  } catch (err) {
    throw new WardenError('path_refused', `${q(relDir || '.')} cannot be read: ${fsCode(err)}`, {
      cause: err,
    });
  }
  for (const name of entries) {
    const rel = relDir === '' ? name : `${relDir}/${name}`;
    if (isIgnored(rel, ctx.ignore)) continue;
    const abs = join(realDir, name);
    let st: Stats;
    try {
      st = await fsp.lstat(abs);
    } catch (err) {
      throw new WardenError('path_refused', `${q(rel)} cannot be read: ${fsCode(err)}`, { cause: err });
    }
    if (st.isDirectory()) {
      await walk(ctx, abs, rel, new Set([...chain, abs]));
    } else if (st.isFile()) {
      add(ctx, rel, abs);
    } else if (st.isSymbolicLink()) {
      if (!ctx.allowSymlinks) {
        throw new WardenError(
          'path_refused',
          `${q(rel)} is a symbolic link: links are refused unless symlinks are allowed`,
        );
      }
      let target: string;
      try {
        target = await fsp.realpath(abs);
      } catch (err) {
        const why = fsCode(err) === 'ELOOP' ? 'is a symbolic link loop' : 'is a dangling symbolic link';
        throw new WardenError('path_refused', `${q(rel)} ${why}`, { cause: err });
      }
      if (!inside(ctx.root, target)) {
        throw new WardenError('path_refused', `${q(rel)} is a symbolic link leading outside the model`);
      }
      let tst: Stats;
      try {
        tst = await fsp.stat(target);
      } catch (err) {
        throw new WardenError('path_refused', `${q(rel)} cannot be read: ${fsCode(err)}`, { cause: err });
      }
      if (tst.isDirectory()) {
        if (chain.has(target) || target === ctx.root) {
          throw new WardenError('path_refused', `${q(rel)} is a symbolic link loop`);
        }
        await walk(ctx, target, rel, new Set([...chain, target]));
      } else if (tst.isFile()) {
        add(ctx, rel, target);
      } else {
        throw new WardenError('path_refused', `${q(rel)} leads to ${kindOf(tst)}`);
      }
    } else {
      throw new WardenError('path_refused', `${q(rel)} is ${kindOf(st)}`);
    }
  }
}

function add(ctx: Ctx, rel: string, abs: string): void {
  if (ctx.found.length >= ctx.maxFiles) {
    throw new WardenError('scan_refused', `the model has more than ${ctx.maxFiles} files`);
  }
  ctx.found.push({ rel, abs });
}

interface Budget {
  maxFileBytes: number;
  maxTotalBytes: number;
  total: number;
  resources: number;
}

/** Hash one file from a descriptor that did not follow a link and cannot block on a fifo. */
async function hashFile(
  rel: string,
  abs: string,
  method: SerializationMethod,
  budget: Budget,
): Promise<Resource[]> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new WardenError('path_refused', `${q(rel)} cannot be opened as a regular file: ${fsCode(err)}`, {
      cause: err,
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new WardenError('path_refused', `${q(rel)} is ${kindOf(st)}`);
    const size = st.size;
    if (size > budget.maxFileBytes) {
      throw new WardenError(
        'scan_refused',
        `${q(rel)} is ${size} bytes, over the cap of ${budget.maxFileBytes} bytes per file`,
      );
    }
    if (budget.total + size > budget.maxTotalBytes) {
      throw new WardenError(
        'scan_refused',
        `the model is over the cap of ${budget.maxTotalBytes} bytes in total`,
      );
    }
    budget.total += size;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    if (method.kind === 'files') {
      const h = createHash('sha256');
      let read = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, read);
        if (bytesRead === 0) break;
        read += bytesRead;
        if (read > size) throw new WardenError('scan_refused', `${q(rel)} changed while it was hashed`);
        h.update(buf.subarray(0, bytesRead));
      }
      if (read !== size) throw new WardenError('scan_refused', `${q(rel)} changed while it was hashed`);
      return [{ name: rel, algorithm: 'sha256', digest: h.digest('hex') }];
    }
    budget.resources += Math.ceil(size / method.shardSize);
    if (budget.resources > MAX_RESOURCES) {
      throw new WardenError('scan_refused', `the model splits into more than ${MAX_RESOURCES} shards`);
    }
    const out: Resource[] = [];
    for (let start = 0; start < size; start += method.shardSize) {
      const end = Math.min(start + method.shardSize, size);
      const h = createHash('sha256');
      let pos = start;
      while (pos < end) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
        if (bytesRead === 0) throw new WardenError('scan_refused', `${q(rel)} changed while it was hashed`);
        h.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      out.push({
        name: `${rel}:${start}:${end}`,
        algorithm: `sha256-sharded-${method.shardSize}`,
        digest: h.digest('hex'),
      });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** SHA-256 over the raw bytes of every resource digest, in listed order. */
export function rootDigestOf(resources: readonly Resource[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(Buffer.from(r.digest, 'hex'));
  return h.digest('hex');
}

/**
 * Hash the model at `path` (a folder, or a single regular file whose one resource is named `.`).
 * The listing follows the reference: files by path parts, shards by (path, numeric start); empty
 * files give no shards.
 */
export async function serializeModel(path: string, opts: SerializeOptions = {}): Promise<SerializedModel> {
  const method = opts.method ?? { kind: 'files' };
  if (method.kind === 'shards' && (!Number.isSafeInteger(method.shardSize) || method.shardSize <= 0)) {
    throw new WardenError('invalid_argument', `shard size ${q(method.shardSize)} is not a positive integer`);
  }
  let root: string;
  let st: Stats;
  try {
    root = await fsp.realpath(resolve(path));
    st = await fsp.stat(root);
  } catch (err) {
    throw new WardenError('not_found', `no model at ${q(path)}`, { cause: err });
  }
  const budget: Budget = {
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    maxTotalBytes: opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES,
    total: 0,
    resources: 0,
  };
  if (st.isFile()) {
    const resources = await hashFile('.', root, method, budget);
    return { kind: 'file', root, resources, rootDigest: rootDigestOf(resources) };
  }
  if (!st.isDirectory()) throw new WardenError('path_refused', `${q(path)} is ${kindOf(st)}`);
  const ctx: Ctx = {
    root,
    ignore: (opts.ignorePaths ?? []).map((p) => normalizeIgnorePath(root, p)),
    allowSymlinks: opts.allowSymlinks === true,
    maxFiles: opts.maxFiles ?? DEFAULT_MAX_FILES,
    found: [],
  };
  await walk(ctx, root, '', new Set([root]));
  ctx.found.sort((a, b) => comparePaths(a.rel, b.rel));
  const resources: Resource[] = [];
  for (const f of ctx.found) resources.push(...(await hashFile(f.rel, f.abs, method, budget)));
  return { kind: 'folder', root, resources, rootDigest: rootDigestOf(resources) };
}

/** The file path a resource name stands for: itself, or `path` of a shard's `path:start:end`. */
export function resourcePath(name: string, method: SerializationMethod['kind']): string {
  if (method === 'files') return name;
  const end = name.lastIndexOf(':');
  const start = end > 0 ? name.lastIndexOf(':', end - 1) : -1;
  return start > 0 ? name.slice(0, start) : name;
}
