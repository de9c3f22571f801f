// Writing untrusted names (servers, tools, argument names) into Cedar text. Tool definitions come
// from upstream servers, so a name must never be able to end its string literal early and add
// declarations of its own to the schema.

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\"\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A Cedar string literal (`"..."`) holding exactly `value`. */
export function cedarString(value: string): string {
  return (
    '"' +
    value.replace(NEEDS_ESCAPE, (c) => {
      if (c === '\\') return '\\\\';
      if (c === '"') return '\\"';
      return `\\u{${c.charCodeAt(0).toString(16)}}`;
    }) +
    '"'
  );
}
