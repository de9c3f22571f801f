// A scanned text and the mapping from its UTF-16 offsets to 1-based lines and columns. A text may
// also stand for a value inside a larger file (a tool description inside tools.json); then every
// location is the location of that value in the file.

export interface Position {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export class SourceText {
  readonly file: string;
  readonly text: string;
  /** When set, every finding in this text is placed here (a value inside a JSON file). */
  readonly fixed: Position | undefined;
  private lineStarts: number[] | undefined;

  constructor(file: string, text: string, fixed?: Position) {
    this.file = file;
    this.text = text;
    this.fixed = fixed;
  }

  private starts(): number[] {
    if (this.lineStarts) return this.lineStarts;
    const s = [0];
    for (let i = 0; i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) s.push(i + 1);
    this.lineStarts = s;
    return s;
  }

  /** 1-based line and column of a UTF-16 offset. */
  point(offset: number): { line: number; column: number } {
    const s = this.starts();
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((s[mid] ?? 0) <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - (s[lo] ?? 0) + 1 };
  }

  position(start: number, end: number): Position {
    if (this.fixed) return this.fixed;
    const a = this.point(start);
    const b = this.point(Math.max(start, end));
    return { line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  }

  /** The line holding `offset`, trimmed and bounded, for a finding's snippet. */
  lineAt(offset: number): string {
    const s = this.starts();
    const { line } = this.point(offset);
    const from = s[line - 1] ?? 0;
    const to = s[line] !== undefined ? (s[line] ?? 0) - 1 : this.text.length;
    return this.text.slice(from, to).trim();
  }
}
