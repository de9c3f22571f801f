// Newline-delimited JSON framing between Warden and its code-mode workers. Its own module, with
// no imports, because the worker must start fast and must not load what code-mode.ts loads.

/** Split a byte stream into lines, refusing a line longer than `max` bytes. */
export function lineReader(max: number, onLine: (line: string) => void, onTooLong: () => void) {
  let parts: Buffer[] = [];
  let size = 0;
  return (chunk: Buffer): void => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      if (size + piece.length > max) return onTooLong();
      const line = Buffer.concat([...parts, piece]).toString('utf8');
      parts = [];
      size = 0;
      start = nl + 1;
      onLine(line);
    }
    if (start < chunk.length) {
      size += chunk.length - start;
      if (size > max) return onTooLong();
      parts.push(chunk.subarray(start));
    }
  };
}
