// Finds the files of a scan target without following anything out of it: symlinks are refused
// unless allowed, and even then never followed outside the folder or round a loop; dependency and
// VCS folders are skipped; files over the size cap and past the file cap are reported, not read.

import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { credentialPaths } from './rules/credential-access.js';
import type { SkippedFile } from './types.js';

export interface DiscoveredFile {
  rel: string;
  abs: string;
  size: number;
}

export interface DiscoveryIssue {
  rule: 'WS507' | 'WS508' | 'WS301';
  file: string;
  message: string;
  severity?: 'medium' | 'high' | 'critical';
}

export interface Discovery {
  files: DiscoveredFile[];
  issues: DiscoveryIssue[];
  skipped: SkippedFile[];
}

export interface DiscoverOptions {
  allowSymlinks: boolean;
  maxFileSize: number;
  maxFiles: number;
}

const SKIP_DIRS = new Set([
  '.git',
  'node_modules',
  '__pycache__',
  '.venv',
  'venv',
  '.hg',
  '.svn',
  '.tox',
  '.mypy_cache',
]);
const MAX_DEPTH = 32;

function posix(p: string): string {
  return p.split(sep).join('/');
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Every scannable file under `root` (a real, absolute folder path). */
export async function discover(root: string, opts: DiscoverOptions): Promise<Discovery> {
  const d: Discovery = { files: [], issues: [], skipped: [] };
  const realRoot = await realpath(root);
  const visited = new Set<string>([realRoot]);
  let capped = false;

  const walk = async (dir: string, relDir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) {
      d.skipped.push({ file: relDir, reason: 'nested too deep' });
      d.issues.push({
        rule: 'WS507',
        file: relDir,
        message: `folder nested deeper than ${MAX_DEPTH} levels was not scanned`,
      });
      return;
    }
    visited.add(dir);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      d.skipped.push({
        file: relDir || '.',
        reason: `cannot read folder: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = join(dir, e.name);
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory() && SKIP_DIRS.has(e.name)) {
        d.skipped.push({ file: rel, reason: 'dependency or version-control folder' });
        continue;
      }
      let target = abs;
      let isDir = e.isDirectory();
      let size = 0;
      if (e.isSymbolicLink()) {
        let link = '';
        try {
          link = await readlink(abs);
        } catch {
          link = '?';
        }
        const cred = credentialPaths(link)[0];
        if (cred)
          d.issues.push({
            rule: 'WS301',
            file: rel,
            message: `symlink points at ${cred.what} (${link})`,
            severity: 'high',
          });
        let resolved: string | undefined;
        try {
          resolved = await realpath(abs);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          d.issues.push({
            rule: 'WS508',
            file: rel,
            message:
              code === 'ELOOP' ? `symlink loop (${link}) refused` : `dangling symlink to ${link} refused`,
          });
          d.skipped.push({ file: rel, reason: code === 'ELOOP' ? 'symlink loop' : 'dangling symlink' });
          continue;
        }
        if (!inside(realRoot, resolved)) {
          d.issues.push({
            rule: 'WS508',
            file: rel,
            message: `symlink leads outside the folder (${link}); never followed`,
            severity: 'high',
          });
          d.skipped.push({ file: rel, reason: 'symlink outside the folder' });
          continue;
        }
        if (!opts.allowSymlinks) {
          d.issues.push({
            rule: 'WS508',
            file: rel,
            message: `symlink to ${link} refused (use --allow-symlinks to follow links inside the folder)`,
          });
          d.skipped.push({ file: rel, reason: 'symlink refused' });
          continue;
        }
        target = resolved;
        const st = await stat(resolved);
        isDir = st.isDirectory();
        size = st.size;
        if (isDir) {
          if (visited.has(resolved)) {
            d.issues.push({ rule: 'WS508', file: rel, message: `symlink loop (${link}) refused` });
            d.skipped.push({ file: rel, reason: 'symlink loop' });
            continue;
          }
          visited.add(resolved);
        }
      } else if (e.isFile()) {
        size = (await lstat(abs)).size;
      } else if (!isDir) {
        d.skipped.push({ file: rel, reason: 'not a regular file' });
        continue;
      }
      if (isDir) {
        await walk(target, rel, depth + 1);
        continue;
      }
      if (d.files.length >= opts.maxFiles) {
        if (!capped) {
          capped = true;
          d.issues.push({
            rule: 'WS507',
            file: rel,
            message: `more than ${opts.maxFiles} files: this and later files were not scanned`,
          });
        }
        d.skipped.push({ file: rel, reason: 'over the file-count cap' });
        continue;
      }
      if (/\.(?:js|css)\.map$/.test(e.name)) {
        d.skipped.push({ file: rel, reason: 'source map (the source it maps is scanned)' });
        continue;
      }
      if (size > opts.maxFileSize) {
        d.issues.push({
          rule: 'WS507',
          file: rel,
          message: `file of ${size} bytes is over the ${opts.maxFileSize}-byte cap and was not scanned`,
        });
        d.skipped.push({ file: rel, reason: `over the size cap (${size} bytes)` });
        continue;
      }
      d.files.push({ rel: posix(rel), abs: target, size });
    }
  };
  await walk(realRoot, '', 0);
  return d;
}

export function relativePosix(from: string, to: string): string {
  return posix(relative(from, to));
}
