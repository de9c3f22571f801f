// Python analysis on the tree-sitter tree: calls resolved through imports (os.system,
// subprocess with shell=True, eval/exec, decode-then-exec, network clients, DNS lookups), the whole
// environment serialised, secret variables, writes, and every string literal.

import type { Node } from 'web-tree-sitter';
import { analyzeBash } from './analyze-bash.js';
import type { Collector } from './collector.js';
import {
  checkEscapedLiteral,
  checkHiddenRecipients,
  checkLiteral,
  decodedConstant,
  newFacts,
  settlePersistence,
} from './literals.js';
import { parse } from './parsers.js';
import { SECRET_ENV_NAME, credentialPaths } from './rules/credential-access.js';
import { persistTargets } from './rules/persistence.js';
import type { SourceText } from './source.js';

const DECODE =
  /b64decode|b32decode|b85decode|a85decode|a2b_base64|unhexlify|fromhex|decompress|codecs\.decode|rot.?13|marshal\.loads|\[::-1\]|\.decode\(\s*['"](?:base64|hex|rot13|zlib)/;
const SHELL_FUNCS = new Set([
  'os.system',
  'os.popen',
  'commands.getoutput',
  'commands.getstatusoutput',
  'subprocess.getoutput',
  'subprocess.getstatusoutput',
  'asyncio.create_subprocess_shell',
  'os.popen2',
  'os.popen3',
  'pty.spawn',
]);
const SUBPROCESS = new Set([
  'subprocess.run',
  'subprocess.call',
  'subprocess.check_call',
  'subprocess.check_output',
  'subprocess.Popen',
  'os.execv',
  'os.execvp',
  'os.execl',
  'os.execlp',
  'os.spawnv',
  'os.spawnl',
  'os.spawnlp',
  'os.spawnvp',
  'asyncio.create_subprocess_exec',
]);
const EVALS = new Set(['eval', 'exec', 'compile', 'execfile', 'builtins.eval', 'builtins.exec']);
const NET_PREFIX =
  /^(?:requests|httpx|aiohttp|urllib\.request|urllib3|http\.client|smtplib|ftplib|socket|paramiko|pycurl|websocket|websockets|telnetlib|xmlrpc\.client|grequests|treq|tornado\.httpclient)\b/;
const NET_METHOD =
  /\.(?:post|put|patch|sendall|sendto|urlopen|sendmail|send_message|connect|request|upload_file|upload_fileobj|put_object|storbinary)$/;
const DNS = new Set([
  'socket.gethostbyname',
  'socket.gethostbyname_ex',
  'socket.getaddrinfo',
  'dns.resolver.resolve',
  'dns.resolver.query',
  'dns.resolver.Resolver',
]);
const WRITE =
  /(?:^|\.)(?:write_text|write_bytes|writelines|copy|copy2|copyfile|copytree|move|symlink|replace|rename|makedirs)$|^open$|^io\.open$|^builtins\.open$|^os\.open$/;
const DUMP_SINKS =
  /^(?:json\.dumps?|str|repr|print|pprint\.pprint|base64\.b64encode|yaml\.dump|pickle\.dumps|.*\.write|.*\.(?:post|put|send|sendall)|requests\..*|httpx\..*|urllib\.parse\.urlencode|list|sorted)$/;

function isConstant(n: Node | null | undefined): boolean {
  if (!n) return true;
  switch (n.type) {
    case 'string':
      return !n.namedChildren.some((c) => c?.type === 'interpolation');
    case 'concatenated_string':
      return n.namedChildren.every((c) => isConstant(c));
    case 'integer':
    case 'float':
    case 'true':
    case 'false':
    case 'none':
      return true;
    case 'list':
    case 'tuple':
      return n.namedChildren.every((c) => isConstant(c));
    case 'parenthesized_expression':
      return isConstant(n.namedChild(0));
    default:
      return false;
  }
}

/** A value built at run time from pieces (f-string, concatenation, format), not a plain name. */
function built(n: Node): boolean {
  if (n.type === 'string') return n.namedChildren.some((c) => c?.type === 'interpolation');
  if (n.type === 'binary_operator') return true;
  if (n.type === 'call') return /\.(?:format|join)$/.test(n.childForFieldName('function')?.text ?? '');
  return false;
}

/** The content of a constant string node (prefix and quotes removed). */
function stringValue(n: Node): string | undefined {
  if (n.type === 'concatenated_string')
    return n.namedChildren.map((c) => (c ? (stringValue(c) ?? '') : '')).join('');
  if (n.type !== 'string') return undefined;
  return n.namedChildren
    .filter(
      (c): c is Node =>
        c !== null &&
        (c.type === 'string_content' || c.type === 'interpolation' || c.type === 'escape_sequence'),
    )
    .map((c) => c.text)
    .join('');
}

function contentStart(n: Node): number {
  const c = n.namedChildren.find((x) => x?.type === 'string_content');
  return c ? c.startIndex : n.startIndex;
}

/** Analyse Python `text` found at offset `base` of `src`. */
export async function analyzePython(
  src: SourceText,
  out: Collector,
  text: string,
  base: number,
  descriptive: boolean,
): Promise<void> {
  const tree = await parse('python', text);
  if (!tree) return;
  const root = tree.rootNode;
  const emit = (rule: string, n: Node, message: string, severity?: Parameters<Collector['emit']>[5]) =>
    out.emit(rule, src, base + n.startIndex, base + n.endIndex, message, severity);
  const short = (n: Node) => JSON.stringify(n.text.replace(/\s+/g, ' ').slice(0, 120));

  // Import aliases: local name -> dotted module path.
  const alias = new Map<string, string>();
  for (const imp of root.descendantsOfType(['import_statement', 'import_from_statement'])) {
    if (!imp) continue;
    if (imp.type === 'import_statement') {
      for (const c of imp.namedChildren) {
        if (!c) continue;
        if (c.type === 'aliased_import') {
          const name = c.childForFieldName('name')?.text ?? '';
          const as = c.childForFieldName('alias')?.text ?? '';
          alias.set(as, name);
        } else if (c.type === 'dotted_name')
          alias.set(c.text.split('.')[0] ?? c.text, c.text.split('.')[0] ?? c.text);
      }
    } else {
      const mod = imp.childForFieldName('module_name')?.text ?? '';
      for (const c of imp.childrenForFieldName('name')) {
        if (!c) continue;
        if (c.type === 'aliased_import')
          alias.set(
            c.childForFieldName('alias')?.text ?? '',
            `${mod}.${c.childForFieldName('name')?.text ?? ''}`,
          );
        else alias.set(c.text, `${mod}.${c.text}`);
      }
    }
  }
  const canonical = (fn: Node): string => {
    // A callee is a dotted name; anything longer is an expression and resolves to nothing.
    if (fn.endIndex - fn.startIndex > 200) return '';
    const t = fn.text.replace(/\s+/g, '');
    const head = t.split('.')[0] ?? t;
    const mapped = alias.get(head);
    return mapped ? mapped + t.slice(head.length) : t;
  };

  let writes = false;
  const facts = newFacts();

  for (const call of root.descendantsOfType('call')) {
    if (!call) continue;
    const fn = call.childForFieldName('function');
    const argList = call.childForFieldName('arguments');
    if (!fn || !argList) continue;
    const name = canonical(fn);
    const args = argList.namedChildren.filter((a): a is Node => a !== null);
    const positional = args.filter((a) => a.type !== 'keyword_argument');
    const kw = (k: string) =>
      args
        .find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === k)
        ?.childForFieldName('value');
    const first = positional[0];

    if (
      EVALS.has(name) ||
      name === '__builtins__.eval' ||
      (/(?:^|\.)(?:exec|eval)$/.test(name) && /__import__|builtins|getattr/.test(name))
    ) {
      if (first && DECODE.test(first.text)) emit('WS501', call, `${name} of decoded data: ${short(call)}`);
      else if (first && !isConstant(first))
        emit('WS602', call, `${name} of a value computed at run time: ${short(call)}`);
      else if (first) emit('WS602', call, `${name} of a constant: ${short(call)}`, 'low');
      continue;
    }
    if (SHELL_FUNCS.has(name)) {
      if (first && DECODE.test(first.text)) emit('WS501', call, `${name} runs decoded data: ${short(call)}`);
      else if (first && !isConstant(first))
        emit('WS601', call, `${name} with a command built at run time: ${short(call)}`);
      else if (first) {
        emit('WS603', call, `${name} runs a constant command through a shell`);
        const v = stringValue(first);
        if (v !== undefined) await analyzeBash(src, out, v, base + contentStart(first));
      }
      continue;
    }
    if (SUBPROCESS.has(name)) {
      const shell = kw('shell');
      const shellOn =
        shell !== undefined && shell !== null && shell.type !== 'false' && shell.type !== 'none';
      if (shellOn) {
        if (first && !isConstant(first))
          emit('WS601', call, `${name} with shell=True and a command built at run time: ${short(call)}`);
        else if (first) {
          emit('WS603', call, `${name} runs a constant command through a shell`);
          const v = stringValue(first);
          if (v !== undefined) await analyzeBash(src, out, v, base + contentStart(first));
        }
      } else if (first?.type === 'list') {
        const items = first.namedChildren.filter((c): c is Node => c !== null);
        const words = items.map((i) => (isConstant(i) ? (stringValue(i) ?? i.text) : '$X'));
        const prog = (words[0] ?? '').split('/').pop() ?? '';
        if (/^(?:sh|bash|zsh|dash)$/.test(prog) && words[1] === '-c') {
          const code = items[2];
          if (code && !isConstant(code))
            emit('WS601', call, `${name} runs ${prog} -c with a command built at run time: ${short(call)}`);
          else if (code) {
            const v = stringValue(code);
            if (v !== undefined) await analyzeBash(src, out, v, base + contentStart(code));
          }
        } else if (
          words.length > 0 &&
          items.every((i) => isConstant(i) || i.type === 'identifier' || i.type === 'attribute')
        ) {
          // An argument list as a command line, for download-run, crontab and the like.
          const line = words.map((w) => (/[\s|;&]/.test(w) ? `'${w.replace(/'/g, '')}'` : w)).join(' ');
          await analyzeBash(src, out, line, base + first.startIndex);
        }
      } else if (first && first.type !== 'string' && first.type !== 'list' && DECODE.test(first.text)) {
        emit('WS501', call, `${name} runs decoded data: ${short(call)}`);
      }
      continue;
    }
    if (
      /^(?:pickle|cPickle|dill|marshal)\.loads?$/.test(name) ||
      name === 'yaml.unsafe_load' ||
      (name === 'yaml.load' && !/SafeLoader|CSafeLoader|BaseLoader/.test(argList.text))
    ) {
      emit('WS605', call, `${name} can run code while loading`, 'low');
    }
    if (name === '__import__' || name === 'importlib.import_module') {
      if (first && !isConstant(first))
        emit('WS505', call, `${name} of a name built at run time: ${short(call)}`);
      else if (/getattr|exec|eval|system/.test(call.parent?.text ?? '') && call.parent?.type !== 'module')
        emit('WS505', call, `dynamic import used to reach ${short(call.parent ?? call)}`);
    }
    if (
      name === 'getattr' &&
      positional[1] &&
      !isConstant(positional[1]) &&
      /__import__|importlib|builtins|os\b/.test(positional[0]?.text ?? '')
    ) {
      emit('WS505', call, `getattr with a computed name on a module: ${short(call)}`);
    }
    if (
      /^(?:base64\.(?:b64decode|urlsafe_b64decode|b32decode|b16decode)|codecs\.decode|bytes\.fromhex|binascii\.(?:unhexlify|a2b_base64))$/.test(
        name,
      ) &&
      first &&
      isConstant(first)
    ) {
      decodedConstant(src, out, stringValue(first) ?? '', base + call.startIndex, base + call.endIndex, name);
    }
    if (DNS.has(name) && first && built(first)) {
      emit('WS403', call, `DNS lookup of a name built at run time: ${short(call)}`);
      out.signal('network', src, base + call.startIndex, base + call.endIndex, name);
    }
    if (NET_PREFIX.test(name) || NET_METHOD.test(name)) {
      out.signal('network', src, base + call.startIndex, base + call.endIndex, name);
    }
    if (WRITE.test(name)) {
      const mode = name === 'open' || name.endsWith('.open') ? (positional[1] ?? kw('mode')) : undefined;
      if (name === 'open' || name.endsWith('.open')) {
        if (mode && /[wax+]/.test(mode.text)) writes = true;
      } else writes = true;
    }
    // Secret-named environment variables.
    if (
      /^(?:os\.getenv|os\.environ\.get|os\.environ\.setdefault|environ\.get)$/.test(name) &&
      first &&
      isConstant(first)
    ) {
      const v = stringValue(first) ?? '';
      if (SECRET_ENV_NAME.test(v)) {
        emit('WS305', call, `reads secret variable ${v}`);
        out.signal(
          'weak-credential',
          src,
          base + call.startIndex,
          base + call.endIndex,
          `secret variable ${v}`,
        );
      }
    }
    // chr() chains.
    if (
      name === 'chr' &&
      call.parent?.type === 'binary_operator' &&
      (call.parent.parent?.type === 'binary_operator' || call.parent.text.split('chr(').length > 3)
    ) {
      const top = (() => {
        let t: Node = call;
        while (t.parent?.type === 'binary_operator') t = t.parent;
        return t;
      })();
      if (top.text.split('chr(').length > 4 && top.startIndex === call.startIndex)
        emit('WS505', top, `string built from character codes: ${short(top)}`);
    }
  }

  // The whole environment.
  for (const a of root.descendantsOfType('attribute')) {
    if (
      !a ||
      (a.text.replace(/\s/g, '') !== 'os.environ' &&
        !(a.text === 'environ' && alias.get('environ') === 'os.environ'))
    )
      continue;
    const p = a.parent;
    if (!p || p.type === 'subscript') continue;
    let dump = false;
    let at: Node = p;
    if (p.type === 'attribute') {
      const method = p.childForFieldName('attribute')?.text ?? '';
      if (!['items', 'values', 'copy', 'keys'].includes(method)) continue;
    }
    // Up to a few levels: serialised, printed or sent, but not handed to a child process as env=.
    for (let up: Node | null = p, depth = 0; up && depth < 7 && !dump; up = up.parent, depth++) {
      if (up.type === 'keyword_argument') {
        const k = up.childForFieldName('name')?.text ?? '';
        if (/^(?:data|json|params|body|payload|content|files)$/.test(k)) {
          dump = true;
          at = up;
        }
        break;
      }
      if (up.type === 'call') {
        const fn = up.childForFieldName('function');
        if (fn && DUMP_SINKS.test(canonical(fn))) {
          dump = true;
          at = up;
        }
      }
      if (up.type === 'pair') {
        // A dictionary entry holding the whole environment is data that goes somewhere.
        dump = true;
        at = up;
        break;
      }
      if (['expression_statement', 'assignment', 'block', 'module', 'return_statement'].includes(up.type))
        break;
    }
    if (dump) {
      const around = at;
      emit('WS303', around, `serialises the whole environment: ${short(around)}`);
      out.signal('env-dump', src, base + a.startIndex, base + a.endIndex, 'the whole environment');
    }
  }
  for (const s of root.descendantsOfType('subscript')) {
    if (!s) continue;
    const v = s.childForFieldName('value')?.text.replace(/\s/g, '');
    if (v !== 'os.environ') continue;
    const key = s.childForFieldName('subscript');
    const k = key && isConstant(key) ? (stringValue(key) ?? '') : '';
    if (SECRET_ENV_NAME.test(k) && s.parent?.type !== 'assignment') {
      emit('WS305', s, `reads secret variable ${k}`);
      out.signal('weak-credential', src, base + s.startIndex, base + s.endIndex, `secret variable ${k}`);
    }
  }

  // String literals, including joined path pieces such as Path.home() / ".ssh" / "id_rsa".
  for (const s of root.descendantsOfType('string')) {
    if (!s || s.parent?.type === 'concatenated_string') continue;
    const v = stringValue(s);
    if (v === undefined) continue;
    checkLiteral(src, out, v, base + contentStart(s), facts, descriptive);
    checkEscapedLiteral(src, out, v, base + contentStart(s));
  }
  for (const b of root.descendantsOfType(['binary_operator', 'call'])) {
    if (!b) continue;
    if (b.type === 'binary_operator' && b.parent?.type === 'binary_operator') continue;
    if (
      b.type === 'call' &&
      !/(?:path\.join|joinpath|Path)$/.test(b.childForFieldName('function')?.text ?? '')
    )
      continue;
    const parts = b
      .descendantsOfType('string')
      .filter((x): x is Node => x !== null)
      .map((x) => stringValue(x) ?? '');
    if (parts.length < 2) continue;
    const joined = parts.join('/');
    const probe = /expanduser|home|HOME|~/.test(b.text) && !joined.startsWith('~') ? `~/${joined}` : joined;
    if (probe === joined && parts.some((x) => credentialPaths(x).length > 0)) continue;
    for (const c of credentialPaths(probe)) {
      emit('WS301', b, `code builds a path to ${c.what}: ${short(b)}`, c.severity);
      if (c.severity !== 'low') out.signal('credential', src, base + b.startIndex, base + b.endIndex, c.what);
    }
    for (const p of persistTargets(probe))
      facts.persist.push({ rule: p.rule, what: p.what, start: base + b.startIndex, end: base + b.endIndex });
  }
  settlePersistence(src, out, facts, writes);
  if (base === 0) checkHiddenRecipients(src, out);
}
