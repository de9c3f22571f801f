// PowerShell and batch files have no grammar here, so they get pattern rules for the techniques
// that matter: encoded commands, download-and-invoke, decode-and-invoke, hidden windows, Run keys
// and scheduled tasks, plus the shared checks on the text (hosts, credential stores).

import type { Collector } from './collector.js';
import { checkLiteral, newFacts } from './literals.js';
import { looksLikeCode } from './rules/obfuscation.js';
import type { SourceText } from './source.js';

const ENCODED = /-(?:e|ec|en|enc|enco|encodedcommand)\b['"]?\s*[,\s]\s*['"]?([A-Za-z0-9+/]{20,}={0,2})/gi;
const DOWNLOAD_INVOKE =
  /\b(?:iex|Invoke-Expression)\b[^\n]{0,200}\b(?:DownloadString|DownloadData|DownloadFile|iwr|Invoke-WebRequest|irm|Invoke-RestMethod|Net\.WebClient|curl|wget)\b|\b(?:DownloadString|iwr|irm|Invoke-WebRequest|Invoke-RestMethod)\b[^\n]{0,200}\|\s*(?:iex|Invoke-Expression)\b/gi;
const DECODE_INVOKE =
  /FromBase64String[^\n]{0,300}\b(?:iex|Invoke-Expression|\.Invoke\(|ScriptBlock)|\b(?:iex|Invoke-Expression|ScriptBlock\]::Create)\b[^\n]{0,300}FromBase64String/gi;
const HIDDEN = /-(?:w|win|window|windowstyle)\s+['"]?hidden\b/gi;
const PERSIST =
  /CurrentVersion\\+Run(?:Once)?\b|\bschtasks(?:\.exe)?\s+\/create\b|\bRegister-ScheduledTask\b|\bNew-Service\b|Start Menu\\+Programs\\+Startup/gi;

/** Analyse PowerShell or batch `text` found at offset `base` of `src`. */
export function analyzePowerShell(src: SourceText, out: Collector, text: string, base: number): void {
  for (const m of text.matchAll(ENCODED)) {
    const b64 = m[1] ?? '';
    const decoded = Buffer.from(b64, 'base64').toString('utf16le');
    const s = base + m.index;
    if (looksLikeCode(decoded))
      out.emit(
        'WS501',
        src,
        s,
        s + m[0].length,
        `encoded PowerShell command runs ${JSON.stringify(decoded.slice(0, 160))}`,
      );
    else
      out.emit(
        'WS503',
        src,
        s,
        s + m[0].length,
        `encoded PowerShell command ${JSON.stringify(decoded.slice(0, 80))}`,
      );
    checkLiteral(src, out, decoded, s, newFacts(), false);
  }
  for (const m of text.matchAll(DOWNLOAD_INVOKE))
    out.emit(
      'WS502',
      src,
      base + m.index,
      base + m.index + m[0].length,
      `download passed to Invoke-Expression: ${JSON.stringify(m[0].slice(0, 120))}`,
    );
  for (const m of text.matchAll(DECODE_INVOKE))
    out.emit('WS501', src, base + m.index, base + m.index + m[0].length, 'base64-decoded script is invoked');
  for (const m of text.matchAll(HIDDEN))
    out.emit(
      'WS505',
      src,
      base + m.index,
      base + m.index + m[0].length,
      'starts a process with a hidden window',
    );
  for (const m of text.matchAll(PERSIST))
    out.emit(
      'WS703',
      src,
      base + m.index,
      base + m.index + m[0].length,
      `installs an autostart entry: ${JSON.stringify(m[0])}`,
    );
  checkLiteral(src, out, text, base, newFacts(), false);
}
