// Running text as code: shell commands with interpolated input, eval/exec/Function of dynamic
// strings. A command given as an argument list, or a constant command, is not a finding at medium.

import type { RuleMeta } from './meta.js';

export const EXECUTION_RULES: RuleMeta[] = [
  {
    id: 'WS601',
    name: 'shell-injection',
    category: 'dangerous-execution',
    severity: 'high',
    short: 'shell command built from dynamic input',
    full: 'A shell runs a command string built at run time (os.system, subprocess with shell=True, child_process.exec, sh -c) from variables, interpolation or concatenation; input that reaches it can run any command.',
    help: 'Pass an argument list without a shell (subprocess.run([...]), execFile/spawn with an array).',
  },
  {
    id: 'WS602',
    name: 'dynamic-eval',
    category: 'dangerous-execution',
    severity: 'high',
    short: 'evaluates a dynamic string as code',
    full: 'eval, exec, compile, Function, vm.run* or shell eval receives a value computed at run time.',
    help: 'Parse data with a parser (json, ast.literal_eval) instead of evaluating it.',
  },
  {
    id: 'WS603',
    name: 'shell-command',
    category: 'dangerous-execution',
    severity: 'low',
    short: 'runs a constant command through a shell',
    full: 'A fixed command string runs through a shell.',
    help: 'Prefer an argument list without a shell.',
  },
  {
    id: 'WS604',
    name: 'install-script',
    category: 'dangerous-execution',
    severity: 'low',
    short: 'package runs code at install time',
    full: 'package.json declares a preinstall, install or postinstall script, which runs on installation before anyone uses the package.',
    help: 'Avoid install scripts; the script itself is also scanned.',
  },
  {
    id: 'WS605',
    name: 'unsafe-deserialisation',
    category: 'dangerous-execution',
    severity: 'medium',
    short: 'deserialises with code execution',
    full: 'pickle/marshal loads, or yaml.load without a safe loader: loading untrusted data runs code.',
    help: 'Use json or yaml.safe_load.',
  },
];
