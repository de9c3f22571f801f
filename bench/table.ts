// Plain-text tables for benchmark output: columns padded to their widest cell, two spaces apart.

export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}
