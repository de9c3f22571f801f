// JavaScript and TypeScript analysis on the tree-sitter tree: child_process calls resolved through
// require and import, eval/Function/vm of dynamic strings and of decoded data, network clients,
// DNS lookups carrying data, the whole environment serialised, writes, and every string literal.

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
import { parse, type Lang } from './parsers.js';
import { SECRET_ENV_NAME } from './rules/credential-access.js';
import type { SourceText } from './source.js';

const DECODE =
  /atob\s*\(|Buffer\.from\s*\([^)]*['"](?:base64|hex|base64url)['"]|fromCharCode|decodeURIComponent|unescape\s*\(|\.reverse\(\)|inflateSync|gunzipSync|brotliDecompressSync|base64ToString|\bdecode\s*\(/;
const SHELL_EXEC = /^child_process\.(?:exec|execSync)$/;
const SPAWN = /^child_process\.(?:spawn|spawnSync|execFile|execFileSync|fork)$/;
const EVALS =
  /^(?:eval|Function|globalThis\.eval|window\.eval|global\.eval|vm\.runInNewContext|vm\.runInThisContext|vm\.runInContext|vm\.compileFunction|vm\.Script|setTimeout|setInterval|new Function|module\._compile)$/;
const NETWORK =
  /^(?:fetch|globalThis\.fetch|axios(?:\.\w+)?|https?\.(?:request|get)|got(?:\.\w+)?|request(?:\.\w+)?|needle(?:\.\w+)?|superagent(?:\.\w+)?|node-fetch|undici\.(?:request|fetch|stream)|ky(?:\.\w+)?|net\.(?:connect|createConnection|Socket)|tls\.connect|dgram\.createSocket|navigator\.sendBeacon|XMLHttpRequest|WebSocket|ws|nodemailer\.createTransport|[\w.]*\.sendMail|EventSource)$/;
const DNS = /^dns(?:\.promises)?\.(?:lookup|resolve\w*|reverse)$/;
const WRITE =
  /^(?:fs(?:\.promises)?|fs\/promises|fs-extra)\.(?:writeFile|writeFileSync|appendFile|appendFileSync|createWriteStream|copyFile|copyFileSync|symlink|symlinkSync|rename|renameSync|cp|cpSync|outputFile|outputFileSync)$|^(?:writeFile|writeFileSync|appendFile|appendFileSync|createWriteStream|copyFile|copyFileSync)$/;
const DUMP =
  /^(?:JSON\.stringify|Object\.(?:entries|keys|values|assign)|console\.\w+|util\.inspect|btoa|Buffer\.from|encodeURIComponent|querystring\.stringify|String|URLSearchParams)$/;

function moduleName(s: string): string {
  return s.replace(/^node:/, '');
}

function stringValue(n: Node): string | undefined {
  if (n.type === 'string') return n.text.slice(1, -1);
  if (n.type === 'template_string') {
    if (n.namedChildren.some((c) => c?.type === 'template_substitution')) return undefined;
    return n.text.slice(1, -1);
  }
  return undefined;
}

function isConstant(n: Node | null | undefined): boolean {
  if (!n) return true;
  if (
    n.type === 'string' ||
    n.type === 'number' ||
    n.type === 'true' ||
    n.type === 'false' ||
    n.type === 'null'
  )
    return true;
  if (n.type === 'template_string') return !n.namedChildren.some((c) => c?.type === 'template_substitution');
  if (n.type === 'binary_expression')
    return isConstant(n.childForFieldName('left')) && isConstant(n.childForFieldName('right'));
  if (n.type === 'parenthesized_expression') return isConstant(n.namedChild(0));
  if (n.type === 'array') return n.namedChildren.every((c) => isConstant(c));
  return false;
}

/** Analyse JavaScript or TypeScript `text` found at offset `base` of `src`. */
export async function analyzeJs(
  src: SourceText,
  out: Collector,
  text: string,
  base: number,
  lang: Lang,
  descriptive: boolean,
): Promise<void> {
  const tree = await parse(lang, text);
  if (!tree) return;
  const root = tree.rootNode;
  const emit = (rule: string, n: Node, message: string, severity?: Parameters<Collector['emit']>[5]) =>
    out.emit(rule, src, base + n.startIndex, base + n.endIndex, message, severity);
  const short = (n: Node) => JSON.stringify(n.text.replace(/\s+/g, ' ').slice(0, 120));

  // Aliases from require() and import: local name -> module or module.member.
  const alias = new Map<string, string>();
  for (const imp of root.descendantsOfType('import_statement')) {
    if (!imp) continue;
    const srcNode = imp.childForFieldName('source');
    if (!srcNode) continue;
    const mod = moduleName(srcNode.text.slice(1, -1));
    for (const clause of imp.descendantsOfType(['import_specifier', 'namespace_import', 'import_clause'])) {
      if (!clause) continue;
      if (clause.type === 'import_specifier') {
        const name = clause.childForFieldName('name')?.text ?? '';
        const as = clause.childForFieldName('alias')?.text ?? name;
        alias.set(as, `${mod}.${name}`);
      } else if (clause.type === 'namespace_import') {
        const id = clause.namedChildren.find((c) => c?.type === 'identifier');
        if (id) alias.set(id.text, mod);
      } else {
        const id = clause.namedChildren.find((c) => c?.type === 'identifier');
        if (id) alias.set(id.text, mod);
      }
    }
  }
  for (const d of root.descendantsOfType('variable_declarator')) {
    if (!d) continue;
    const value = d.childForFieldName('value');
    const nameNode = d.childForFieldName('name');
    if (!value || !nameNode) continue;
    const pm = /^(?:util\.)?promisify\s*\(\s*([\w.]+)\s*\)$|^([\w.]+)\.bind\([^)]*\)$|^([\w.]+)$/.exec(
      value.text.trim(),
    );
    if (pm && nameNode.type === 'identifier') {
      const target = pm[1] ?? pm[2] ?? pm[3] ?? '';
      const head = target.split('.')[0] ?? target;
      const mapped = alias.get(head);
      if (mapped) alias.set(nameNode.text, mapped + target.slice(head.length));
      continue;
    }
    const m = /^(?:await\s+)?(?:require|import)\s*\(\s*['"`]([^'"`]+)['"`]\s*\)(?:\.(\w+))?$/.exec(
      value.text.trim(),
    );
    if (!m) continue;
    const mod = moduleName(m[1] ?? '') + (m[2] ? `.${m[2]}` : '');
    if (nameNode.type === 'identifier') alias.set(nameNode.text, mod);
    else if (nameNode.type === 'object_pattern') {
      for (const p of nameNode.namedChildren) {
        if (!p) continue;
        if (p.type === 'shorthand_property_identifier_pattern') alias.set(p.text, `${mod}.${p.text}`);
        else if (p.type === 'pair_pattern') {
          const k = p.childForFieldName('key')?.text ?? '';
          const v = p.childForFieldName('value')?.text ?? '';
          alias.set(v, `${mod}.${k}`);
        }
      }
    }
  }
  const canonical = (fn: Node): string => {
    // A callee is a dotted name; anything longer is an expression and resolves to nothing.
    if (fn.endIndex - fn.startIndex > 200) return '';
    const t = fn.text.replace(/\s+/g, '').replace(/\?\./g, '.');
    const head = t.split('.')[0] ?? t;
    const mapped = alias.get(head);
    return mapped ? mapped + t.slice(head.length) : t;
  };

  let writes = false;
  const facts = newFacts();

  for (const call of root.descendantsOfType(['call_expression', 'new_expression'])) {
    if (!call) continue;
    const fn = call.childForFieldName(call.type === 'call_expression' ? 'function' : 'constructor');
    const argList = call.childForFieldName('arguments');
    if (!fn) continue;
    let name = canonical(fn).replace(/^buffer\.Buffer\./, 'Buffer.');
    if (call.type === 'new_expression' && name === 'Function') name = 'new Function';
    const args = (argList?.namedChildren ?? []).filter((a): a is Node => a !== null && a.type !== 'comment');
    const first = args[0];

    if (EVALS.test(name)) {
      if (
        (name === 'setTimeout' || name === 'setInterval') &&
        first &&
        !['string', 'template_string', 'binary_expression'].includes(first.type)
      )
        continue;
      const code = name === 'Function' || name === 'new Function' ? args[args.length - 1] : first;
      if (code && DECODE.test(code.text)) emit('WS501', call, `${name} of decoded data: ${short(call)}`);
      else if (code && !isConstant(code))
        emit('WS602', call, `${name} of a value computed at run time: ${short(call)}`);
      else if (code) emit('WS602', call, `${name} of a constant`, 'low');
      continue;
    }
    if (SHELL_EXEC.test(name)) {
      if (first && DECODE.test(first.text)) emit('WS501', call, `${name} runs decoded data: ${short(call)}`);
      else if (first && !isConstant(first))
        emit('WS601', call, `${name} with a command built at run time: ${short(call)}`);
      else if (first) {
        emit('WS603', call, `${name} runs a constant command through a shell`);
        const v = stringValue(first);
        if (v !== undefined) await analyzeBash(src, out, v, base + first.startIndex + 1);
      }
      continue;
    }
    if (SPAWN.test(name)) {
      const opts = args.find((a) => a.type === 'object');
      // Only a literal shell:true (or a shell path) counts; an option passed through is the caller's choice.
      const shell = opts ? /\bshell\s*:\s*(?:true\b|['"`])/.test(opts.text) : false;
      const argv = args.find((a) => a.type === 'array');
      const prog = first ? (stringValue(first) ?? '') : '';
      const items = (argv?.namedChildren ?? []).filter((c): c is Node => c !== null);
      if (shell && first && !isConstant(first))
        emit('WS601', call, `${name} with shell:true and a command built at run time: ${short(call)}`);
      else if (
        /^(?:\/bin\/)?(?:sh|bash|zsh|dash)$/.test(prog) &&
        items[0] &&
        stringValue(items[0]) === '-c'
      ) {
        const code = items[1];
        if (code && !isConstant(code))
          emit('WS601', call, `${name} runs ${prog} -c with a command built at run time: ${short(call)}`);
        else if (code) {
          const v = stringValue(code);
          if (v !== undefined) await analyzeBash(src, out, v, base + code.startIndex + 1);
        }
      } else if (prog && items.every((i) => isConstant(i))) {
        const line = [prog, ...items.map((i) => stringValue(i) ?? i.text)]
          .map((w) => (/[\s|;&]/.test(w) ? `'${w.replace(/'/g, '')}'` : w))
          .join(' ');
        await analyzeBash(src, out, line, base + call.startIndex);
      }
      continue;
    }
    if (
      (name === 'Buffer.from' && args[1] && /^['"`](?:base64|base64url|hex)['"`]$/.test(args[1].text)) ||
      name === 'atob'
    ) {
      const v = first ? stringValue(first) : undefined;
      if (v !== undefined)
        decodedConstant(
          src,
          out,
          name === 'atob' ? v : `${v}`,
          base + call.startIndex,
          base + call.endIndex,
          name,
          args[1]?.text.includes('hex') ? 'hex' : 'base64',
        );
    }
    if (
      DNS.test(name) &&
      first &&
      (first.type === 'binary_expression' || (first.type === 'template_string' && !isConstant(first)))
    ) {
      emit('WS403', call, `DNS lookup of a name built at run time: ${short(call)}`);
      out.signal('network', src, base + call.startIndex, base + call.endIndex, name);
    }
    if (
      NETWORK.test(name) ||
      (/\.(?:post|put|patch)$/.test(name) && first && /https?:|url|endpoint/i.test(first.text))
    ) {
      out.signal('network', src, base + call.startIndex, base + call.endIndex, name);
    }
    if (WRITE.test(name)) writes = true;
    if (name === 'String.fromCharCode' && args.length >= 6)
      emit('WS505', call, `string built from ${args.length} character codes`);
    if (name === 'require' && first && !isConstant(first))
      emit('WS505', call, `require of a name built at run time: ${short(call)}`, 'low');
  }

  // process.env: secret names, and the whole environment serialised.
  for (const m of root.descendantsOfType(['member_expression', 'subscript_expression'])) {
    if (!m) continue;
    const obj = m.childForFieldName('object');
    if (obj?.text.replace(/\s/g, '') === 'process.env') {
      const prop =
        m.type === 'member_expression'
          ? (m.childForFieldName('property')?.text ?? '')
          : (stringValue(m.childForFieldName('index') ?? m) ?? '');
      const p = m.parent;
      const assigned = p?.type === 'assignment_expression' && p.childForFieldName('left')?.id === m.id;
      if (SECRET_ENV_NAME.test(prop) && !assigned) {
        emit('WS305', m, `reads secret variable ${prop}`);
        out.signal('weak-credential', src, base + m.startIndex, base + m.endIndex, `secret variable ${prop}`);
      }
      continue;
    }
    if (m.type !== 'member_expression' || m.text.replace(/\s/g, '') !== 'process.env') continue;
    const p = m.parent;
    if (!p || p.type === 'member_expression' || p.type === 'subscript_expression') continue;
    let dump = false;
    let at: Node = p;
    for (let up: Node | null = p, depth = 0; up && depth < 4; up = up.parent, depth++) {
      if (up.type === 'call_expression') {
        const f = up.childForFieldName('function');
        if (f && DUMP.test(canonical(f))) {
          dump = true;
          at = up;
          break;
        }
      }
      if (
        up.type === 'pair' &&
        /^['"]?(?:body|data|payload|json|params|query|message|content|text)['"]?$/.test(
          up.childForFieldName('key')?.text ?? '',
        )
      ) {
        dump = true;
        at = up;
        break;
      }
      if (up.type === 'pair' && /^['"]?env['"]?$/.test(up.childForFieldName('key')?.text ?? '')) break;
    }
    if (dump) {
      emit('WS303', at, `serialises the whole environment: ${short(at)}`);
      out.signal('env-dump', src, base + m.startIndex, base + m.endIndex, 'the whole environment');
    }
  }

  for (const s of root.descendantsOfType(['string', 'template_string'])) {
    if (!s) continue;
    const raw = s.text.slice(1, -1);
    checkLiteral(src, out, raw, base + s.startIndex + 1, facts, descriptive);
    checkEscapedLiteral(src, out, raw, base + s.startIndex + 1);
  }
  // Obfuscator output: hex-named identifiers, and the Function constructor reached through [].
  const hexNames = new Set(
    root
      .descendantsOfType('identifier')
      .map((i) => i?.text ?? '')
      .filter((t) => /^_0x[0-9a-f]{3,}$/i.test(t)),
  );
  if (hexNames.size >= 4)
    out.emit(
      'WS505',
      src,
      base,
      base + Math.min(text.length, 1),
      `${hexNames.size} obfuscator-style identifiers (_0x...)`,
    );
  for (const m of text.matchAll(
    /\[\s*\]\s*\[[^\]\n]{1,60}\]\s*\[[^\]\n]{1,60}\]\s*\(|\.constructor\s*\.\s*constructor\s*\(|\[\s*['"]constructor['"]\s*\]\s*\[\s*['"]constructor['"]\s*\]\s*\(/g,
  )) {
    out.emit(
      'WS505',
      src,
      base + m.index,
      base + m.index + m[0].length,
      'reaches the Function constructor indirectly to run a string',
      'high',
    );
  }
  settlePersistence(src, out, facts, writes);
  if (base === 0) checkHiddenRecipients(src, out);
}
