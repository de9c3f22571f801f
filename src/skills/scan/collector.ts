// Collects the findings of one scan unit (a skill, a server folder, a set of tool definitions) and
// the source and sink signals that only mean something together: a credential read alone is one
// finding, a credential read plus a network send in the same unit is exfiltration.

import { ruleById } from './rules/index.js';
import type { Position, SourceText } from './source.js';
import type { Finding, Severity } from './types.js';

export type SignalKind =
  /** Reads a credential store, key file, keychain or browser store. */
  | 'credential'
  /** Serialises or prints the whole environment. */
  | 'env-dump'
  /** Reads a secret-named environment variable or a `.env` file: normal alone. */
  | 'weak-credential'
  /** Sends data over the network. */
  | 'network'
  /** Sends data to a paste, webhook, tunnel or out-of-band host, or a bare IP address. */
  | 'suspicious-network';

export interface Signal {
  kind: SignalKind;
  file: string;
  pos: Position;
  detail: string;
}

// Characters a terminal or review UI would not show; snippets print them as escapes. The class
// lists joiners and selectors on purpose, so the lint rules against them do not apply here.
/* eslint-disable no-control-regex, no-misleading-character-class */
const INVISIBLE =
  /[\u0000-\u0008\u000b-\u001f\u007f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\u3164\ufe00-\ufe0f\ufeff\uffa0]|\udb40[\udc00-\uddef]/g;
/* eslint-enable no-control-regex, no-misleading-character-class */

export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

function bounded(s: string, n = 160): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

export class Collector {
  readonly findings: Finding[] = [];
  readonly signals: Signal[] = [];
  private seen = new Set<string>();

  emit(
    ruleId: string,
    src: SourceText,
    start: number,
    end: number,
    message: string,
    severity?: Severity,
  ): void {
    this.emitAt(ruleId, src.file, src.position(start, end), message, severity, src.lineAt(start));
  }

  emitAt(
    ruleId: string,
    file: string,
    pos: Position,
    message: string,
    severity?: Severity,
    snippet?: string,
  ): void {
    const rule = ruleById(ruleId);
    const key = `${ruleId}\0${file}\0${pos.line}\0${pos.column}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const f: Finding = {
      ruleId,
      category: rule.category,
      severity: severity ?? rule.severity,
      message: bounded(visible(message), 400),
      file,
      ...pos,
    };
    if (snippet !== undefined && snippet !== '') f.snippet = bounded(visible(snippet));
    this.findings.push(f);
  }

  signal(kind: SignalKind, src: SourceText, start: number, end: number, detail: string): void {
    this.signals.push({ kind, file: src.file, pos: src.position(start, end), detail: bounded(detail, 80) });
  }

  /** Source plus sink in one unit: the combinations that make exfiltration. */
  combine(): void {
    const has = (k: SignalKind) => this.signals.filter((s) => s.kind === k);
    const strong = [...has('credential'), ...has('env-dump')];
    const weak = has('weak-credential');
    const net = has('network');
    const suspicious = has('suspicious-network');
    const report = (sources: Signal[], sinks: Signal[]) => {
      const byFile = new Set<string>();
      for (const sink of sinks) {
        if (byFile.has(sink.file)) continue;
        byFile.add(sink.file);
        const source = sources.find((s) => s.file === sink.file) ?? sources[0];
        if (!source) return;
        this.emitAt(
          'WS402',
          sink.file,
          sink.pos,
          `sends data over the network (${sink.detail}) in a unit that also reads ${source.detail} (${source.file}:${source.pos.line})`,
        );
      }
    };
    if (strong.length > 0) report(strong, [...suspicious, ...net]);
    if (weak.length > 0) report(weak, suspicious);
  }
}
