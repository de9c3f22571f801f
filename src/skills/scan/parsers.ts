// The tree-sitter grammars, loaded once per process from the wasm files of the grammar packages.
// Parsing never executes what it parses.

import { createRequire } from 'node:module';
import { Language, Parser, type Tree } from 'web-tree-sitter';

export type Lang = 'python' | 'bash' | 'javascript' | 'typescript' | 'tsx';

const require = createRequire(import.meta.url);

const WASM: Record<Lang, string> = {
  python: 'tree-sitter-python/tree-sitter-python.wasm',
  bash: 'tree-sitter-bash/tree-sitter-bash.wasm',
  javascript: 'tree-sitter-javascript/tree-sitter-javascript.wasm',
  typescript: 'tree-sitter-typescript/tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-typescript/tree-sitter-tsx.wasm',
};

let init: Promise<void> | undefined;
const languages = new Map<Lang, Promise<Language>>();
const parsers = new Map<Lang, Parser>();

async function language(lang: Lang): Promise<Language> {
  init ??= Parser.init();
  await init;
  let l = languages.get(lang);
  if (!l) {
    l = Language.load(require.resolve(WASM[lang]));
    languages.set(lang, l);
  }
  return l;
}

/** Load every grammar now, so the first scan does not pay for it. */
export async function loadGrammars(): Promise<void> {
  await Promise.all((Object.keys(WASM) as Lang[]).map((l) => language(l)));
}

/** Parse `text`; undefined when the parser gives up (time limit, resource limit). */
export async function parse(lang: Lang, text: string): Promise<Tree | undefined> {
  const l = await language(lang);
  let p = parsers.get(lang);
  if (!p) {
    p = new Parser();
    p.setLanguage(l);
    parsers.set(lang, p);
  }
  const started = Date.now();
  try {
    return (
      p.parse(text, null, {
        // Bound the work an adversarial file can cause.
        progressCallback: () => Date.now() - started > 5000,
      }) ?? undefined
    );
  } catch {
    return undefined;
  }
}

/** Language of a file from its name or shebang line. */
export function languageOf(name: string, head: string): Lang | undefined {
  const lower = name.toLowerCase();
  if (/\.(?:py|pyw|pyi)$/.test(lower)) return 'python';
  if (/\.(?:sh|bash|zsh|ksh|command)$/.test(lower) || /(?:^|\/)\.?(?:bashrc|zshrc|profile)$/.test(lower))
    return 'bash';
  if (/\.(?:js|mjs|cjs)$/.test(lower)) return 'javascript';
  if (/\.(?:jsx|tsx)$/.test(lower)) return 'tsx';
  if (/\.(?:ts|mts|cts)$/.test(lower)) return 'typescript';
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(head);
  if (shebang) {
    const prog =
      (shebang[1]?.endsWith('/env') ? (shebang[2] ?? '') : (shebang[1] ?? '')).split('/').pop() ?? '';
    if (/^python/.test(prog)) return 'python';
    if (/^(?:ba|z|k|da)?sh$/.test(prog)) return 'bash';
    if (/^(?:node|deno|bun)$/.test(prog)) return 'javascript';
  }
  return undefined;
}

/** Language of a Markdown fenced block from its info string. */
export function fenceLanguage(info: string): Lang | undefined {
  const l = info.trim().split(/[\s{]/)[0]?.toLowerCase() ?? '';
  if (['sh', 'bash', 'shell', 'zsh', 'console', 'shell-session', 'terminal', 'ksh'].includes(l))
    return 'bash';
  if (['py', 'python', 'python3'].includes(l)) return 'python';
  if (['js', 'javascript', 'mjs', 'cjs', 'node'].includes(l)) return 'javascript';
  if (['ts', 'typescript'].includes(l)) return 'typescript';
  if (['tsx', 'jsx'].includes(l)) return 'tsx';
  return undefined;
}
