// How upstream tools, resources and prompts are named towards agents.
//
// A tool `send_email` of upstream `mail` is offered as `mail__send_email`: the upstream name comes
// first so an agent (and its user) always sees which server a tool belongs to, and the separator
// `__` cannot occur in an upstream name (`[a-z0-9-]`), so the split is unambiguous. Prompts use
// the same scheme. Resources keep their URI; the gateway remembers which upstream listed each.

export const SEPARATOR = '__';

export function exposedName(server: string, name: string): string {
  return `${server}${SEPARATOR}${name}`;
}

/** Split an exposed name; undefined when it does not name an upstream. */
export function splitExposedName(exposed: string): { server: string; name: string } | undefined {
  const i = exposed.indexOf(SEPARATOR);
  if (i <= 0) return undefined;
  const server = exposed.slice(0, i);
  const name = exposed.slice(i + SEPARATOR.length);
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(server) || name.length === 0) return undefined;
  return { server, name };
}

/** Glob match for envelope patterns: `*` matches any run of characters, everything else literally. */
export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(value);
}
