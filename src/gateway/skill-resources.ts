// Installed skills, offered to agents as resources of Warden's own server: `skill://<name>/<path>`
// for every file a skill's signature covers. A read is decided by Cedar like any other
// (`resources/read` of a `Resource` whose server is `warden`), and serves the bytes only if they
// still hash to the digest pinned at install: a file changed in the store after the gateway
// started is refused, not served.

import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, fstatSync, readSync } from 'node:fs';
import type { ReadResourceResult, Resource } from '@modelcontextprotocol/sdk/types.js';
import { WardenError, q } from '../errors.js';
import { openBeneath } from '../sandbox/paths.js';
import type { LoadedSkill } from '../skills/gate.js';

export const SKILL_URI_PREFIX = 'skill://';
const MAX_SKILL_FILE_BYTES = 8 * 1024 * 1024;

const MIME: Record<string, string> = {
  md: 'text/markdown',
  txt: 'text/plain',
  py: 'text/x-python',
  sh: 'text/x-shellscript',
  js: 'text/javascript',
  mjs: 'text/javascript',
  ts: 'text/x-typescript',
  json: 'application/json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  html: 'text/html',
  css: 'text/css',
  csv: 'text/csv',
  xml: 'application/xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
};

function mimeOf(path: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';
  return MIME[ext] ?? 'application/octet-stream';
}

export function skillUri(skill: string, path: string): string {
  return `${SKILL_URI_PREFIX}${skill}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** Every file of every loaded skill, as MCP resources (SKILL.md first in each skill). */
export function skillResources(skills: readonly LoadedSkill[]): Resource[] {
  const out: Resource[] = [];
  for (const s of skills) {
    const paths = [...s.files.keys()].sort((a, b) =>
      a === 'SKILL.md' ? -1 : b === 'SKILL.md' ? 1 : a < b ? -1 : a > b ? 1 : 0,
    );
    for (const p of paths) {
      out.push({
        uri: skillUri(s.name, p),
        name: `${s.name}/${p}`,
        mimeType: mimeOf(p),
        ...(p === 'SKILL.md' ? { description: s.description } : {}),
      });
    }
  }
  return out;
}

function locate(skills: readonly LoadedSkill[], uri: string): { skill: LoadedSkill; path: string } {
  if (!uri.startsWith(SKILL_URI_PREFIX)) throw new WardenError('not_found', `unknown resource ${q(uri)}`);
  const rest = uri.slice(SKILL_URI_PREFIX.length);
  const slash = rest.indexOf('/');
  const skill = skills.find((s) => s.name === rest.slice(0, slash));
  let path: string;
  try {
    path = rest
      .slice(slash + 1)
      .split('/')
      .map((c) => decodeURIComponent(c))
      .join('/');
  } catch {
    throw new WardenError('not_found', `unknown resource ${q(uri)}`);
  }
  if (slash < 0 || !skill || !skill.files.has(path))
    throw new WardenError('not_found', `unknown resource ${q(uri)}`);
  return { skill, path };
}

/** Read one file of a loaded skill, refusing it unless it still has its pinned digest. */
export function readSkillResource(skills: readonly LoadedSkill[], uri: string): ReadResourceResult {
  const { skill, path } = locate(skills, uri);
  const { fd } = openBeneath(skill.dir, path);
  let bytes: Buffer;
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_SKILL_FILE_BYTES)
      throw new WardenError('skill_invalid', `skill file ${q(uri)} is larger than 8 MiB`);
    bytes = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, bytes, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } finally {
    closeSync(fd);
  }
  const pinned = Buffer.from(skill.files.get(path) ?? '', 'hex');
  const actual = createHash('sha256').update(bytes).digest();
  if (pinned.length !== 32 || !timingSafeEqual(pinned, actual))
    throw new WardenError(
      'signature_invalid',
      `skill file ${q(uri)} no longer matches the digest pinned at install; it is not served`,
    );
  const mimeType = mimeOf(path);
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  return {
    contents: [
      text !== undefined && !mimeType.startsWith('image/') && mimeType !== 'application/pdf'
        ? { uri, mimeType, text }
        : { uri, mimeType, blob: bytes.toString('base64') },
    ],
  };
}
