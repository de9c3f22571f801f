// Splits Markdown into what a reader sees and what they do not: frontmatter, fenced code blocks,
// prose, and hidden parts (HTML comments, Markdown link-label comments, elements hidden by
// attribute or style, text after a wall of blank lines or pushed off-screen by spaces).

export interface MdFrontmatter {
  /** Offsets of the YAML text between the --- lines. */
  start: number;
  end: number;
  closed: boolean;
}

export interface MdSegment {
  kind: 'prose' | 'hidden' | 'code';
  start: number;
  end: number;
  /** Fenced block info string. */
  lang?: string;
  reason?: string;
}

/** The frontmatter block at the very top, if the file starts with ---. */
export function frontmatterOf(text: string): MdFrontmatter | undefined {
  const bom = text.startsWith('\ufeff') ? 1 : 0;
  const m = /^---[ \t]*\r?\n/.exec(text.slice(bom));
  if (!m) return undefined;
  const start = bom + m[0].length;
  const close = /^(?:---|\.\.\.)[ \t]*$/m;
  const rest = text.slice(start);
  const c = close.exec(rest);
  if (!c) return { start, end: text.length, closed: false };
  return { start, end: start + c.index, closed: true };
}

const HIDDEN_PATTERNS: Array<{ re: RegExp; reason: string }> = [
  { re: /<!--[\s\S]*?(?:-->|$)/g, reason: 'HTML comment' },
  {
    re: /^[ \t]*\[(?:\/\/|comment|hidden|_)\]:\s*(?:#|<>)\s*(?:\([^\n]*\)|"[^\n]*"|'[^\n]*')[ \t]*$/gim,
    reason: 'Markdown comment',
  },
  {
    re: /<(\w+)\b[^>]*?(?:\bhidden\b|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0(?:\.0+)?\b|color\s*:\s*(?:white|#fff\b|#ffffff|transparent))[^>]*>[\s\S]{0,8000}?<\/\1\s*>/gi,
    reason: 'hidden element',
  },
  { re: /(?<![\n \t])(?:[ \t]*\n){9,}[ \t]*(?=\S)[\s\S]*$/g, reason: 'text after many blank lines' },
  { re: /(?<![ \t])[ \t]{120,}(?=\S)[^\n]*/g, reason: 'text pushed off-screen by spaces' },
];

/** Segments of the Markdown body starting at `from` (after the frontmatter). */
export function splitMarkdown(text: string, from: number): MdSegment[] {
  const segments: MdSegment[] = [];
  const fence = /^ {0,3}(`{3,}|~{3,})[ \t]*([^\n`]*)$/gm;
  fence.lastIndex = from;
  let cursor = from;
  for (;;) {
    const open = fence.exec(text);
    if (!open) break;
    const marker = open[1] ?? '```';
    const bodyStart = open.index + open[0].length + 1;
    const closeRe = new RegExp(`^ {0,3}${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`, 'gm');
    closeRe.lastIndex = bodyStart;
    const close = closeRe.exec(text);
    const bodyEnd = close ? close.index : text.length;
    if (open.index > cursor) segments.push(...proseAndHidden(text, cursor, open.index));
    segments.push({
      kind: 'code',
      start: Math.min(bodyStart, text.length),
      end: bodyEnd,
      lang: (open[2] ?? '').trim(),
    });
    cursor = close ? close.index + close[0].length : text.length;
    fence.lastIndex = cursor;
    if (!close) break;
  }
  if (cursor < text.length) segments.push(...proseAndHidden(text, cursor, text.length));
  return segments;
}

function proseAndHidden(text: string, start: number, end: number): MdSegment[] {
  const slice = text.slice(start, end);
  const hidden: MdSegment[] = [];
  for (const h of HIDDEN_PATTERNS) {
    for (const m of slice.matchAll(h.re)) {
      const s = start + m.index;
      const e = s + m[0].length;
      if (hidden.some((x) => s >= x.start && e <= x.end)) continue;
      hidden.push({ kind: 'hidden', start: s, end: e, reason: h.reason });
    }
  }
  return [{ kind: 'prose', start, end }, ...hidden];
}

/** `text[start, end)` with the hidden ranges replaced by spaces (offsets unchanged). */
export function masked(text: string, start: number, end: number, hidden: MdSegment[]): string {
  const parts: string[] = [];
  let at = start;
  const inside = hidden.filter((h) => h.end > start && h.start < end).sort((a, b) => a.start - b.start);
  for (const h of inside) {
    const a = Math.max(h.start, at);
    const b = Math.min(h.end, end);
    if (b <= a) continue;
    parts.push(text.slice(at, a), text.slice(a, b).replace(/[^\n]/g, ' '));
    at = b;
  }
  parts.push(text.slice(at, end));
  return parts.join('');
}
