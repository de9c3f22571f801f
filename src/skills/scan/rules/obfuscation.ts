// Hiding what runs: decode-then-execute, remote scripts piped into a shell, encoded payloads,
// string-building tricks, binaries and compiled code in a skill, and content the scanner could not
// read (over the size cap, past the file cap, behind a refused symlink).

import type { RuleMeta } from './meta.js';

export const OBFUSCATION_RULES: RuleMeta[] = [
  {
    id: 'WS501',
    name: 'decode-and-execute',
    category: 'obfuscation',
    severity: 'critical',
    short: 'decodes data and executes it',
    full: 'Encoded data (base64, hex, rot13, zlib, marshal) is decoded and passed to an interpreter (exec, eval, Function, a shell), so what runs is not what a reviewer reads.',
    help: 'Ship the code in plain form.',
  },
  {
    id: 'WS502',
    name: 'remote-script-to-shell',
    category: 'obfuscation',
    severity: 'high',
    short: 'downloads a script and runs it',
    full: "A download (curl, wget, Invoke-WebRequest) is piped or substituted into an interpreter, so code never reviewed runs with the user's rights.",
    help: 'Pin and verify what is installed (a package manager, a checksum) instead of piping a download to a shell. Well-known vendor installers are reported as low.',
  },
  {
    id: 'WS503',
    name: 'encoded-payload',
    category: 'obfuscation',
    severity: 'high',
    short: 'encoded blob that decodes to code or commands',
    full: 'A long base64 or hex string decodes to shell commands, code or an address.',
    help: 'Ship the code in plain form.',
  },
  {
    id: 'WS504',
    name: 'long-encoded-blob',
    category: 'obfuscation',
    severity: 'low',
    short: 'long encoded blob',
    full: 'A long base64 or hex string whose content could not be identified.',
    help: 'Check what the blob is; prefer shipping assets as files.',
  },
  {
    id: 'WS505',
    name: 'string-obfuscation',
    category: 'obfuscation',
    severity: 'medium',
    short: 'names or code built from character codes',
    full: 'Code builds names or code from character codes, reversed strings or dynamic imports (chr() chains, String.fromCharCode, __import__, getattr on a built name) to hide what it calls.',
    help: 'Call what you mean directly.',
  },
  {
    id: 'WS506',
    name: 'executable-binary',
    category: 'obfuscation',
    severity: 'high',
    short: 'executable binary or compiled code',
    full: 'The folder holds an executable (ELF, Mach-O, PE, WebAssembly) or compiled bytecode, which cannot be reviewed as source.',
    help: 'Ship source and build it, or document and sign the binary.',
  },
  {
    id: 'WS507',
    name: 'unscanned-content',
    category: 'obfuscation',
    severity: 'medium',
    short: 'content was not scanned',
    full: 'A file was over the size cap, past the file-count cap, or behind a refused symlink, so it was not scanned; anything could hide there.',
    help: 'Scan with higher caps (--max-file-size) or remove the content.',
  },
  {
    id: 'WS508',
    name: 'symlink',
    category: 'obfuscation',
    severity: 'medium',
    short: 'symlink refused',
    full: 'A symlink inside the folder: it may point outside it (to credentials) or loop. It is not followed unless --allow-symlinks is given, and one leading outside the folder is never followed.',
    help: 'Replace symlinks with files.',
  },
];

/** Hosts of widely used official installers, for which curl-pipe-shell is the documented install. */
export const KNOWN_INSTALLER_HOST =
  /^https?:\/\/(?:sh\.rustup\.rs|static\.rust-lang\.org|astral\.sh|(?:get\.)?deno\.land|deno\.land|bun\.sh|get\.docker\.com|raw\.githubusercontent\.com\/(?:Homebrew|nvm-sh|pyenv|ohmyzsh|rbenv)\/|install\.python-poetry\.org|get\.pnpm\.io|ollama\.com|fnm\.vercel\.app|get\.sdkman\.io|cli\.github\.com|starship\.rs|tailscale\.com\/install\.sh|mise\.run|get\.volta\.sh|pixi\.sh|claude\.ai\/install\.sh|opencode\.ai\/install)/i;

const HEX_BLOB = /(?:\\x)?(?:[0-9a-fA-F]{2}(?:\\x)?){100,}/g;
const CODEY =
  /\b(?:curl|wget|bash|\/bin\/sh|powershell|iex|invoke-expression|downloadstring|new-object|eval|exec|subprocess|os\.system|child_process|require\(|import\s+\w|socket|nc\s+-|chmod\s+\+x|base64|http:\/\/|https:\/\/|\/dev\/tcp|crontab|\.ssh|id_rsa|password|ignore (?:all |previous )|instructions)\b/i;

function decodeBase64(s: string): string {
  try {
    return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1');
  } catch {
    return '';
  }
}

function printableShare(s: string): number {
  if (s.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 32 && c < 127) || c === 9 || c === 10 || c === 13) n++;
  }
  return n / s.length;
}

export interface BlobMatch {
  index: number;
  length: number;
  decoded: string | undefined;
  encoding: 'base64' | 'hex';
}

/** Long encoded strings in `text`, with their decoded content when it is text. */
export function encodedBlobs(text: string, min = 160): BlobMatch[] {
  const out: BlobMatch[] = [];
  const blob = new RegExp(`[A-Za-z0-9+/]{${min},}={0,2}|[A-Za-z0-9_-]{${Math.max(min, 200)},}`, 'g');
  for (const m of text.matchAll(blob)) {
    const s = m[0];
    // Hex digits, a path or plain words are not base64 payloads.
    if (/^[0-9a-fA-F]+$/.test(s) || !/[0-9]/.test(s) || !/[A-Z]/.test(s) || !/[a-z]/.test(s)) continue;
    const before = text.slice(Math.max(0, m.index - 40), m.index);
    if (
      /data:(?:image|font|audio|video)\/[\w.+-]+;base64,$|(?:sha\d+|integrity|sha512-|sha384-)[-:=\s"']*$/i.test(
        before,
      )
    )
      continue;
    let d = decodeBase64(s);
    // PowerShell -EncodedCommand is UTF-16LE.
    if (d.length > 8 && d.charCodeAt(1) === 0 && d.charCodeAt(3) === 0)
      d = Buffer.from(d, 'latin1').toString('utf16le');
    out.push({
      index: m.index,
      length: s.length,
      decoded: printableShare(d) > 0.9 ? d : undefined,
      encoding: 'base64',
    });
  }
  for (const m of text.matchAll(HEX_BLOB)) {
    const hex = m[0].replace(/\\x/g, '');
    const d = Buffer.from(hex, 'hex').toString('latin1');
    out.push({
      index: m.index,
      length: m[0].length,
      decoded: printableShare(d) > 0.9 ? d : undefined,
      encoding: 'hex',
    });
  }
  return out;
}

/** True when decoded text looks like commands, code or an address rather than data. */
export function looksLikeCode(decoded: string): boolean {
  return CODEY.test(decoded);
}

/** Magic numbers of executables and compiled code. */
export function executableKind(head: Uint8Array, name: string): string | undefined {
  const b = (i: number) => head[i] ?? -1;
  if (b(0) === 0x7f && b(1) === 0x45 && b(2) === 0x4c && b(3) === 0x46) return 'ELF executable';
  if (b(0) === 0x4d && b(1) === 0x5a) return 'Windows PE executable';
  const m = ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
  if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(m)) return 'Mach-O executable';
  if (b(0) === 0x00 && b(1) === 0x61 && b(2) === 0x73 && b(3) === 0x6d) return 'WebAssembly module';
  if (/\.(?:pyc|pyo)$/i.test(name)) return 'compiled Python bytecode';
  if (/\.(?:so|dylib|dll|exe|node)$/i.test(name)) return 'native library';
  return undefined;
}
