// Opening a file a sandboxed process named, from a directory it shares with Warden. The process
// can write that directory, so it can plant symlinks there (to /etc/shadow, to Warden's keys) and
// hand Warden the link's name: Warden must never follow one. openBeneath refuses absolute paths,
// `..`, and a symlink anywhere on the way, and checks what it actually opened lies under the root.

import { closeSync, constants, fstatSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { WardenError, q } from '../errors.js';

export class PathRefusedError extends WardenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('path_refused', message, options);
  }
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The path the descriptor really refers to (Linux: /proc/self/fd), else the realpath of `path`. */
function openedPath(fd: number, path: string): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return realpathSync(path);
  }
}

/**
 * Open `relative` (a regular file) under `root` for reading, following no symlink. Returns the
 * descriptor (the caller closes it) and the file's real path. Throws a PathRefusedError
 * (`path_refused`) for an absolute path, `..`, a symlink on the way, or anything but a file.
 */
export function openBeneath(root: string, relative: string): { fd: number; realPath: string } {
  const refuse = (why: string, cause?: unknown): never => {
    throw new PathRefusedError(
      `path ${q(relative)} under ${q(root)} is refused: ${why}`,
      cause === undefined ? undefined : { cause },
    );
  };
  if (relative.includes('\0')) refuse('it contains NUL');
  if (isAbsolute(relative)) refuse('it is absolute');
  const parts = relative.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) refuse('it names no file');
  if (parts.includes('..')) refuse('it contains `..`');
  let base: string;
  try {
    base = realpathSync(root);
  } catch (err) {
    return refuse(`the root cannot be resolved (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
  // Each directory on the way, then the file, opened without following a symlink (O_NOFOLLOW
  // fails with ELOOP on one). Node has no openat: the opened file's real path is checked at the end.
  let path = base;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    const last = i === parts.length - 1;
    const flags = constants.O_RDONLY | constants.O_NOFOLLOW | (last ? 0 : constants.O_DIRECTORY);
    let fd: number;
    try {
      fd = openSync(path, flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') return refuse(`${q(parts.slice(0, i + 1).join('/'))} is a symlink`, err);
      if (code === 'ENOTDIR')
        return refuse(`${q(parts.slice(0, i + 1).join('/'))} is not a directory (or is a symlink)`, err);
      return refuse(`it cannot be opened (${code ?? 'error'})`, err);
    }
    if (!last) {
      closeSync(fd);
      continue;
    }
    try {
      if (!fstatSync(fd).isFile()) refuse('it is not a regular file');
      const realPath = openedPath(fd, path);
      if (!under(realPath, base)) refuse(`it resolves to ${q(realPath)}, outside the root`);
      return { fd, realPath };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }
  return refuse('it names no file');
}
