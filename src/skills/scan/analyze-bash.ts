// Shell analysis on the tree-sitter bash tree: download-and-run pipelines, decode-and-run, eval of
// expansions, reverse shells, credential reads, environment dumps, network sends, DNS lookups
// carrying data, and redirections or commands that install persistence.

import type { Node } from 'web-tree-sitter';
import type { Collector } from './collector.js';
import { checkLiteral, newFacts } from './literals.js';
import { parse } from './parsers.js';
import { credentialPaths, dotenvPaths } from './rules/credential-access.js';
import { EXFIL_HOST } from './rules/exfiltration.js';
import { KNOWN_INSTALLER_HOST } from './rules/obfuscation.js';
import { benignStartupLine, persistTargets } from './rules/persistence.js';
import type { SourceText } from './source.js';
import type { Severity } from './types.js';

const DOWNLOADERS = new Set([
  'curl',
  'wget',
  'fetch',
  'iwr',
  'invoke-webrequest',
  'irm',
  'invoke-restmethod',
  'aria2c',
  'http',
  'xh',
]);
const INTERPRETERS = new Set([
  'sh',
  'bash',
  'zsh',
  'dash',
  'ksh',
  'fish',
  'python',
  'python2',
  'python3',
  'perl',
  'ruby',
  'node',
  'php',
  'pwsh',
  'powershell',
  'iex',
  'invoke-expression',
  'osascript',
  'source',
  '.',
  'deno',
  'bun',
  'lua',
  'tclsh',
]);
const NETWORK = new Set([
  'curl',
  'wget',
  'nc',
  'ncat',
  'netcat',
  'socat',
  'telnet',
  'scp',
  'rsync',
  'sftp',
  'ftp',
  'http',
  'xh',
  'aria2c',
  'sendmail',
  'mail',
  'mutt',
  'invoke-webrequest',
  'iwr',
  'irm',
  'invoke-restmethod',
]);
const DNS_TOOLS = new Set(['dig', 'nslookup', 'host', 'drill', 'resolvectl']);
// Commands that use a key in place (login, permissions) rather than reading it out.
const KEY_USERS = new Set([
  'ssh',
  'ssh-keygen',
  'ssh-add',
  'ssh-copy-id',
  'chmod',
  'chown',
  'ls',
  'mkdir',
  'touch',
  'test',
  '[',
  '[[',
  'git',
  'aws',
  'gcloud',
  'az',
  'kubectl',
  'docker',
  'export',
  'rm',
  'stat',
  'echo',
  'ssh-agent',
  'eval',
  'keychain',
  'unset',
]);
const SEND_FLAGS =
  /^(?:-d|--data(?:-\w+)?|-F|--form(?:-string)?|-T|--upload-file|--post-data|--post-file|--body-data|--body-file|-X|--request|--json)$|^-d./;

interface Cmd {
  node: Node;
  name: string;
  args: Node[];
  words: string[];
}

function unquote(n: Node): string {
  const t = n.text;
  if (n.type === 'raw_string') return t.slice(1, -1);
  if (n.type === 'string') return t.slice(1, -1);
  if (n.type === 'ansi_c_string') return t.slice(2, -1);
  if (n.type === 'concatenation') return n.namedChildren.map((c) => (c ? unquote(c) : '')).join('');
  return t;
}

function commandOf(n: Node): Cmd | undefined {
  if (n.type !== 'command') return undefined;
  const nameNode = n.childForFieldName('name');
  const raw = nameNode ? unquote(nameNode) : '';
  let name = (raw.split('/').pop() ?? '').toLowerCase();
  let args = n.childrenForFieldName('argument').filter((a): a is Node => a !== null);
  // sudo, env, nohup, exec, command, time, xargs wrap the real command.
  while (
    [
      'sudo',
      'env',
      'nohup',
      'exec',
      'command',
      'time',
      'nice',
      'doas',
      'xargs',
      'timeout',
      'stdbuf',
    ].includes(name) &&
    args.length > 0
  ) {
    const i = args.findIndex((a) => {
      const w = unquote(a);
      return !w.startsWith('-') && !/^[A-Z_][A-Z0-9_]*=/.test(w) && !/^\d+[smh]?$/.test(w);
    });
    if (i < 0) break;
    name = (
      unquote(args[i] as Node)
        .split('/')
        .pop() ?? ''
    ).toLowerCase();
    args = args.slice(i + 1);
  }
  return { node: n, name, args, words: args.map(unquote) };
}

function descendants(n: Node, type: string | string[]): Node[] {
  return n.descendantsOfType(type).filter((d): d is Node => d !== null);
}

function hasDynamic(n: Node): boolean {
  return (
    descendants(n, ['simple_expansion', 'expansion', 'command_substitution', 'process_substitution']).length >
      0 || ['simple_expansion', 'expansion', 'command_substitution'].includes(n.type)
  );
}

function isDecoder(c: Cmd): boolean {
  const w = c.words;
  if (c.name === 'base64' || c.name === 'base32')
    return w.some((x) => /^(?:-d|--decode|-D|-di|-id)$/.test(x));
  if (c.name === 'xxd') return w.some((x) => /^-r/.test(x));
  if (c.name === 'openssl') return w.includes('-d') || w.includes('base64') || w.includes('-base64');
  if (['gunzip', 'zcat', 'bunzip2', 'xz', 'unxz', 'rev', 'uudecode'].includes(c.name))
    return c.name !== 'xz' || w.includes('-d');
  if (c.name === 'tr') return w.some((x) => /n-za-m|N-ZA-M/.test(x));
  if (c.name === 'printf' || c.name === 'echo') return w.some((x) => /(?:\\x[0-9a-f]{2}){4,}/i.test(x));
  if (c.name === 'python' || c.name === 'python3' || c.name === 'perl')
    return w.some((x) => /b64decode|decode_base64|unpack/.test(x));
  return false;
}

function urlOf(c: Cmd): string | undefined {
  return c.words.find((w) => /^https?:\/\//.test(w));
}

export interface BashOptions {
  /** Snippet from documentation: the agent may run it, but constant commands are normal there. */
  docs?: boolean;
}

/** Analyse shell `text` found at offset `base` of `src`. */
export async function analyzeBash(
  src: SourceText,
  out: Collector,
  text: string,
  base: number,
  opts: BashOptions = {},
): Promise<void> {
  const tree = await parse('bash', text);
  if (!tree) return;
  if (misparsed(tree.rootNode, text)) {
    // The grammar sometimes runs commands of separate lines together; analyse line by line then.
    const lines = /(?:[^\n]*\\\n)*[^\n]*(?:\n|$)/g;
    const vars = variables(tree.rootNode);
    for (const m of text.matchAll(lines)) {
      if (m[0] === '') break;
      if (m[0].trim() !== '') await analyzeTree(src, out, m[0], base + m.index, opts, vars);
    }
    // Here-documents are lost line by line: check their text as a whole.
    for (const m of text.matchAll(/<<-?\s*(['"]?)(\w+)\1[^\n]*\n([\s\S]*?)\n[ \t]*\2[ \t]*(?:\n|$)/g)) {
      const body = m[3] ?? '';
      checkLiteral(src, out, body, base + m.index + m[0].indexOf('\n') + 1, newFacts(), false);
    }
    return;
  }
  await analyzeTreeOf(tree.rootNode, src, out, text, base);
}

/** A command whose arguments continue on a later line without a backslash: the parse went wrong. */
function misparsed(root: Node, text: string): boolean {
  for (const c of descendants(root, 'command')) {
    let prev = c.childForFieldName('name');
    for (const a of c.childrenForFieldName('argument')) {
      if (!a || !prev) continue;
      const gap = text.slice(prev.endIndex, a.startIndex);
      if (/(?<!\\)\n/.test(gap)) return true;
      prev = a;
    }
  }
  return false;
}

async function analyzeTree(
  src: SourceText,
  out: Collector,
  text: string,
  base: number,
  _opts: BashOptions,
  vars: Map<string, string[]>,
): Promise<void> {
  const tree = await parse('bash', text);
  if (tree) await analyzeTreeOf(tree.rootNode, src, out, text, base, vars);
}

/** Values a variable may hold: its assignments and the words of a for loop over it. */
function variables(root: Node): Map<string, string[]> {
  const vars = new Map<string, string[]>();
  const add = (k: string, v: string) => vars.set(k, [...(vars.get(k) ?? []), v].slice(0, 16));
  for (const a of descendants(root, 'variable_assignment')) {
    const name = a.childForFieldName('name')?.text;
    const value = a.childForFieldName('value');
    if (name && value) add(name, unquote(value));
  }
  for (const f of descendants(root, 'for_statement')) {
    const name = f.childForFieldName('variable')?.text;
    if (!name) continue;
    for (const v of f.childrenForFieldName('value')) if (v) add(name, unquote(v));
  }
  return vars;
}

function expand(word: string, vars: Map<string, string[]>): string[] {
  const out = [word];
  const m = /\$\{?([A-Za-z_]\w*)\}?/.exec(word);
  if (m?.[1]) for (const v of vars.get(m[1]) ?? []) out.push(word.replace(m[0], v));
  return out;
}

async function analyzeTreeOf(
  root: Node,
  src: SourceText,
  out: Collector,
  text: string,
  base: number,
  outer?: Map<string, string[]>,
): Promise<void> {
  const vars = new Map([...(outer ?? []), ...variables(root)]);
  const emit = (rule: string, n: Node, message: string, severity?: Severity) =>
    out.emit(rule, src, base + n.startIndex, base + n.endIndex, message, severity);
  const sig = (kind: Parameters<Collector['signal']>[0], n: Node, detail: string) =>
    out.signal(kind, src, base + n.startIndex, base + n.endIndex, detail);
  const short = (n: Node) => JSON.stringify(n.text.replace(/\s+/g, ' ').slice(0, 120));

  // Pipelines: download or decode, then an interpreter.
  for (const p of descendants(root, 'pipeline')) {
    const cmds = p.namedChildren
      .filter((c): c is Node => c !== null)
      .map((c) => commandOf(c.type === 'redirected_statement' ? (c.childForFieldName('body') ?? c) : c));
    let downloaded: Cmd | undefined;
    let decoded = false;
    let envDump: Cmd | undefined;
    for (const c of cmds) {
      if (!c) continue;
      if (DOWNLOADERS.has(c.name)) downloaded = c;
      if (isDecoder(c)) decoded = true;
      if ((c.name === 'env' || c.name === 'printenv' || c.name === 'set') && c.words.length === 0)
        envDump = c;
      const interp =
        INTERPRETERS.has(c.name) &&
        !c.words.some((w) => /^(?:-c|-e|--version|-m)$/.test(w) && c.name !== 'source');
      if (interp && decoded) {
        emit('WS501', p, `decoded data piped into ${c.name}: ${short(p)}`);
      } else if (interp && downloaded) {
        const url = urlOf(downloaded) ?? '';
        const known = KNOWN_INSTALLER_HOST.test(url);
        emit(
          'WS502',
          p,
          `download piped into ${c.name}${known ? ' (well-known installer host)' : ''}: ${short(p)}`,
          known ? 'low' : undefined,
        );
      }
      if (envDump && NETWORK.has(c.name) && c !== envDump) {
        emit('WS303', envDump.node, 'the whole environment is piped to a network command');
        sig('env-dump', envDump.node, 'the whole environment');
      }
      if (c.name === 'crontab' && !c.words.every((w) => /^-[lre]$/.test(w)) && cmds.indexOf(c) > 0) {
        emit('WS702', c.node, `installs a crontab from a pipeline: ${short(p)}`);
      }
      if (c.name === 'tee') {
        for (const w of c.words) {
          for (const t of persistTargets(w)) {
            const prev = cmds
              .slice(0, cmds.indexOf(c))
              .map((x) => x?.node.text ?? '')
              .join(' | ');
            const benign =
              t.rule === 'WS701' &&
              /^(?:echo|printf)\s/.test(prev) &&
              benignStartupLine(prev.replace(/^(?:echo|printf)\s+(?:-\w+\s+)?/, ''));
            emit(benign ? 'WS706' : t.rule, c.node, `tee writes to ${t.what}`);
          }
        }
      }
    }
  }

  for (const n of descendants(root, 'command')) {
    const c = commandOf(n);
    if (!c) continue;
    const { name, words, args } = c;
    const dyn = args.some(hasDynamic);

    if (name === 'eval') {
      const inner = args.map((a) => a.text).join(' ');
      if (/\b(?:curl|wget)\b/.test(inner)) emit('WS502', n, `eval of a download: ${short(n)}`);
      else if (/base64\s+(?:-d|--decode|-D)|xxd\s+-r|openssl\s+(?:enc\s+)?-d/.test(inner))
        emit('WS501', n, `eval of decoded data: ${short(n)}`);
      else if (dyn) {
        // eval "$(tool init)" sets up a local tool; eval "$1" runs whatever it is given.
        const substitutionOnly = args.every(
          (a) => a.type === 'command_substitution' || (a.type === 'string' && /^"\$\([^)]*\)"$/.test(a.text)),
        );
        emit('WS602', n, `eval of an expansion: ${short(n)}`, substitutionOnly ? 'low' : undefined);
      }
    }
    if (INTERPRETERS.has(name) && !['source', '.'].includes(name)) {
      const ci = words.findIndex(
        (w) => w === '-c' || w === '-e' || w === '-Command' || w === '-EncodedCommand' || w === '-enc',
      );
      const code = ci >= 0 ? args[ci + 1] : undefined;
      if (code) {
        const t = code.text;
        if (
          /\b(?:curl|wget|iwr|Invoke-WebRequest|DownloadString)\b/i.test(t) &&
          /\$\(|`|\||iex|Invoke-Expression/i.test(t)
        )
          emit('WS502', n, `${name} runs a download: ${short(n)}`);
        else if (
          /b64decode|base64\s+(?:-d|--decode)|FromBase64String|atob\(|Buffer\.from\([^)]*base64/.test(t) ||
          /^-(?:EncodedCommand|enc)$/i.test(words[ci] ?? '')
        )
          emit('WS501', n, `${name} runs decoded data: ${short(n)}`);
        else if (hasDynamic(code) && /^(?:sh|bash|zsh|dash|ksh)$/.test(name))
          emit('WS601', n, `${name} -c with an expansion: ${short(n)}`);
        else if (
          /^(?:sh|bash|zsh|dash|ksh)$/.test(name) &&
          (code.type === 'string' || code.type === 'raw_string') &&
          !hasDynamic(code)
        ) {
          await analyzeBash(src, out, unquote(code), base + code.startIndex + 1);
        }
      }
      for (const ps of descendants(n, ['process_substitution', 'command_substitution'])) {
        if (/\b(?:curl|wget)\b/.test(ps.text)) emit('WS502', n, `${name} runs a download: ${short(n)}`);
      }
    }
    // Reverse shells.
    if (
      (['nc', 'ncat', 'netcat'].includes(name) && words.some((w) => /^-[a-z]*[ec]$/.test(w))) ||
      (name === 'socat' && words.some((w) => /exec:|system:/i.test(w)))
    ) {
      emit('WS601', n, `network listener or client runs a shell: ${short(n)}`, 'critical');
    }
    // Network sends.
    if (NETWORK.has(name)) {
      const sends =
        words.some((w) => SEND_FLAGS.test(w)) ||
        ![
          'curl',
          'wget',
          'http',
          'xh',
          'aria2c',
          'iwr',
          'invoke-webrequest',
          'irm',
          'invoke-restmethod',
        ].includes(name) ||
        dyn;
      if (sends) sig('network', n, `${name} ${words.find((w) => /^https?:|@|:/.test(w)) ?? ''}`.trim());
      for (const w of words) {
        const m = /^@(.+)$/.exec(w) ?? /=@(.+)$/.exec(w);
        if (m?.[1]) {
          for (const cp of credentialPaths(m[1])) {
            emit('WS301', n, `${name} uploads ${cp.what}`, cp.severity);
            sig('credential', n, cp.what);
          }
        }
      }
    }
    if (DNS_TOOLS.has(name) && args.some((a) => hasDynamic(a))) {
      emit('WS403', n, `DNS lookup of a name built at run time: ${short(n)}`);
      sig('network', n, `${name} lookup`);
    }
    // The clipboard is where passwords pass through.
    if (
      (name === 'xclip' && words.includes('-o')) ||
      (name === 'xsel' && words.some((w) => /^-[a-z]*o/.test(w))) ||
      name === 'pbpaste' ||
      name === 'wl-paste'
    ) {
      sig('weak-credential', n, 'the clipboard');
    }
    // .env files read out (loading them into the shell with source is normal).
    if (
      ['cat', 'cp', 'tar', 'zip', 'base64', 'scp', 'rsync', 'xxd', 'gzip', 'openssl', 'curl', 'nc'].includes(
        name,
      ) &&
      n.parent?.type !== 'pipeline'
    ) {
      const sources = name === 'cp' || name === 'scp' || name === 'rsync' ? words.slice(0, -1) : words;
      for (const w of sources) {
        if (dotenvPaths(w.replace(/^@/, '')).length > 0 || /(?:^|\/)\.env$/.test(w.replace(/^@/, ''))) {
          emit('WS301', n, `${name} reads a .env file: ${short(n)}`, 'medium');
          sig('credential', n, 'a .env file');
        }
      }
    }
    // Credential reads.
    if (!KEY_USERS.has(name)) {
      for (let i = 0; i < args.length; i++) {
        const w = words[i] ?? '';
        if (/^-(?:i|f|o|-output|-identity)$/.test(words[i - 1] ?? '') && name !== 'cat') continue;
        for (const cp of credentialPaths(w)) {
          emit('WS301', args[i] as Node, `${name || 'command'} reads ${cp.what}`, cp.severity);
          if (cp.severity !== 'low') sig('credential', args[i] as Node, cp.what);
        }
      }
    }
    if (
      name === 'security' &&
      words.some((w) => /^(?:find-generic-password|find-internet-password|dump-keychain|export)$/.test(w))
    ) {
      emit('WS306', n, `reads the keychain: ${short(n)}`);
      sig('credential', n, 'the keychain');
    }
    if (name === 'secret-tool' && words[0] === 'lookup') {
      emit('WS306', n, `reads the secret service: ${short(n)}`);
      sig('credential', n, 'the secret service');
    }
    if (
      (name === 'env' || name === 'printenv' || name === 'set' || (name === 'export' && words[0] === '-p')) &&
      (words.length === 0 || words[0] === '-p')
    ) {
      sig('env-dump', n, 'the whole environment');
    }
    // Persistence by command.
    if (name === 'crontab') {
      const rest = words.filter((w, i) => !/^-[lreiu]$/.test(w) && words[i - 1] !== '-u');
      if (rest.length > 0 && n.parent?.type !== 'pipeline' && !words.includes('-l') && !words.includes('-r'))
        emit('WS702', n, `installs a crontab: ${short(n)}`);
    }
    if (name === 'systemctl' && words.includes('enable'))
      emit('WS703', n, `enables a service: ${short(n)}`, 'medium');
    if (name === 'launchctl' && words.some((w) => /^(?:load|bootstrap|submit)$/.test(w)))
      emit('WS703', n, `loads a launchd job: ${short(n)}`, 'medium');
    if (name === 'reg' && words[0]?.toLowerCase() === 'add' && words.some((w) => /\\Run(?:Once)?\b/i.test(w)))
      emit('WS703', n, `adds a Run key: ${short(n)}`);
    if (['cp', 'mv', 'ln', 'install', 'rsync', 'cat'].includes(name) && words.length >= 2) {
      const dest = words[words.length - 1] ?? '';
      for (const t of persistTargets(dest)) emit(t.rule, n, `${name} writes to ${t.what}`);
    }
    // Collector hosts and literal checks on every constant word.
    for (const a of args) {
      const v = unquote(a);
      if (EXFIL_HOST.test(v) || /:\/\/\d/.test(v)) {
        EXFIL_HOST.lastIndex = 0;
        checkLiteral(src, out, v, base + a.startIndex, newFacts(), false);
      }
      EXFIL_HOST.lastIndex = 0;
    }
  }

  // Redirections: reading credentials in, writing persistence out, /dev/tcp connections.
  for (const r of descendants(root, 'file_redirect')) {
    const dest = r.childForFieldName('destination') ?? r.lastNamedChild;
    if (!dest) continue;
    const target = unquote(dest);
    const op = r.text.slice(0, r.text.length - dest.text.length).trim();
    if (/\/dev\/(?:tcp|udp)\//.test(target)) {
      const stmt = r.parent;
      const interactive = stmt ? /\b(?:bash|sh|zsh)\b[^|]*-i\b|\bexec\b/.test(stmt.text) : false;
      emit(
        'WS601',
        r,
        `connection through ${target}${interactive ? ' with an interactive shell (reverse shell)' : ''}`,
        interactive ? 'critical' : 'high',
      );
      sig('network', r, target);
      continue;
    }
    if (op.includes('<')) {
      for (const cp of credentialPaths(target)) {
        emit('WS301', r, `reads ${cp.what}`, cp.severity);
        if (cp.severity !== 'low') sig('credential', r, cp.what);
      }
      continue;
    }
    const targets = expand(target, vars).flatMap((t) => persistTargets(t));
    for (const t of targets.filter((x, i) => targets.findIndex((y) => y.rule === x.rule) === i)) {
      const stmt = r.parent;
      const body = stmt?.childForFieldName('body');
      const bc = body ? commandOf(body) : undefined;
      let content = '';
      if (bc && (bc.name === 'echo' || bc.name === 'printf'))
        content = bc.args
          .filter((a) => !/^-\w+$/.test(a.text))
          .map(unquote)
          .join(' ');
      const heredoc = stmt ? descendants(stmt, 'heredoc_body')[0] : undefined;
      if (heredoc) content = heredoc.text;
      const benign = t.rule === 'WS701' && content !== '' && benignStartupLine(content);
      emit(
        benign ? 'WS706' : t.rule,
        stmt ?? r,
        `${op || '>'} redirects into ${t.what}${benign ? ' (sets a PATH or tool hook only)' : ''}`,
      );
    }
  }
  // Here-documents become scripts, startup lines or crontabs: analyse their text as shell too.
  for (const b of descendants(root, 'heredoc_body')) {
    if (b.text.trim() === '') continue;
    await analyzeBash(src, out, b.text, base + b.startIndex);
    checkLiteral(src, out, b.text, base + b.startIndex, newFacts(), false);
  }
  for (const h of descendants(root, 'heredoc_redirect')) {
    const stmt = h.parent;
    const cmd = stmt?.childForFieldName('body');
    const c = cmd ? commandOf(cmd) : undefined;
    if (c?.name === 'crontab') emit('WS702', stmt as Node, 'installs a crontab from a here-document');
  }
  // Download, make executable, run.
  const downloads = descendants(root, 'command')
    .map(commandOf)
    .filter((c): c is Cmd => !!c && DOWNLOADERS.has(c.name));
  for (const d of downloads) {
    const oi = d.words.findIndex((w) => /^(?:-o|-O|--output|--output-document)$/.test(w));
    const file = oi >= 0 ? d.words[oi + 1] : undefined;
    if (!file) continue;
    const base0 = file.split('/').pop() ?? file;
    const escaped = base0.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const runs = new RegExp(
      `chmod\\s+(?:\\+x|[0-7]*[1357][0-7]{0,2})\\s+\\S*${escaped}|(?:^|[;&|\\s])(?:\\./|/\\S*/)?${escaped}(?:\\s|$)|\\b(?:sh|bash|python3?|node)\\s+\\S*${escaped}`,
      'm',
    );
    const rest = text.slice(d.node.endIndex);
    if (runs.test(rest)) {
      const url = urlOf(d) ?? '';
      const known = KNOWN_INSTALLER_HOST.test(url);
      emit('WS502', d.node, `downloads ${JSON.stringify(file)} and runs it`, known ? 'low' : undefined);
    }
  }
}
