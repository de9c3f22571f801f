// Data leaving for places an agent should not send it: paste and webhook collectors, tunnels and
// out-of-band interaction hosts, bare IP addresses, DNS lookups that carry data in the name, hidden
// BCC recipients in mail code, and text telling the model to send data out.

import type { RuleMeta } from './meta.js';

export const EXFILTRATION_RULES: RuleMeta[] = [
  {
    id: 'WS401',
    name: 'exfiltration-host',
    category: 'exfiltration',
    severity: 'high',
    short: 'sends to a paste, webhook, tunnel or out-of-band host',
    full: 'Code or instructions address a host whose purpose is collecting requests or hosting pastes (request bins, webhook catchers, tunnels, out-of-band interaction servers, anonymous file drops, chat webhooks used as drops).',
    help: 'A skill or tool server should talk only to the service it is for; remove the endpoint.',
  },
  {
    id: 'WS402',
    name: 'credential-exfiltration',
    category: 'exfiltration',
    severity: 'critical',
    short: 'reads credentials and sends data out',
    full: 'The same skill or server reads a credential store or the whole environment and sends data over the network (or reads a secret and sends it to an untrusted host).',
    help: 'Treat as a credential stealer until proven otherwise.',
  },
  {
    id: 'WS403',
    name: 'dns-exfiltration',
    category: 'exfiltration',
    severity: 'high',
    short: 'data encoded into a DNS lookup',
    full: 'A DNS lookup whose name is built from data at run time: the data leaves through the resolver even where HTTP is blocked.',
    help: 'Look up fixed names only.',
  },
  {
    id: 'WS404',
    name: 'send-instruction',
    category: 'exfiltration',
    severity: 'high',
    short: 'instructions tell the agent to send data out',
    full: 'Text the model reads tells it to send, upload or post files, conversation history, keys or other data to an external address.',
    help: 'Remove the instruction.',
  },
  {
    id: 'WS405',
    name: 'hidden-recipient',
    category: 'exfiltration',
    severity: 'high',
    short: 'hard-coded BCC/CC recipient in mail code',
    full: 'Mail-sending code adds a fixed BCC or CC address, so every message is copied to a third party (the postmark-mcp backdoor).',
    help: 'Recipients must come from the user; remove the fixed address.',
  },
  {
    id: 'WS406',
    name: 'raw-ip-endpoint',
    category: 'exfiltration',
    severity: 'medium',
    short: 'network endpoint is a bare IP address',
    full: 'A URL or connection uses a bare public IP address instead of a host name.',
    help: 'Use the service host name; bare addresses are typical of command-and-control endpoints.',
  },
  {
    id: 'WS407',
    name: 'exfiltration-host-mention',
    category: 'exfiltration',
    severity: 'low',
    short: 'text mentions a paste or webhook host',
    full: 'A request-collector or paste host is named in prose without an instruction to send to it.',
    help: 'Usually documentation; check the context.',
  },
];

// Hosts that exist to receive requests or host anonymous content.
export const EXFIL_HOST =
  /\b(?:[\w-]{1,63}\.){0,6}(?:webhook\.site|webhook\.cool|requestbin\.[a-z]{2,}|requestcatcher\.com|pipedream\.[a-z]{2,}|m\.pipedream\.net|hookbin\.com|beeceptor\.com|mockbin\.(?:org|io)|ptsv[23]\.com|postb\.in|requestinspector\.com|webhookinbox\.com|ngrok(?:-free)?\.(?:io|app|dev)|pinggy\.(?:link|io|online)|tunnelmole\.net|loclx\.io|zrok\.io|playit\.gg|telebit\.cloud|ngrok\.io|trycloudflare\.com|loca\.lt|localtunnel\.me|serveo\.net|bore\.pub|localhost\.run|lhr\.life|pagekite\.me|interact\.sh|interactsh\.com|oast\.(?:fun|live|site|online|pro|me)|oastify\.com|burpcollaborator\.net|canarytokens\.(?:com|org)|dnslog\.cn|ceye\.io|pastebin\.com|paste\.ee|hastebin\.com|ghostbin\.\w+|rentry\.(?:co|org)|dpaste\.(?:com|org)|termbin\.com|ix\.io|sprunge\.us|0x0\.st|transfer\.sh|file\.io|gofile\.io|anonfiles\.com|catbox\.moe|temp\.sh|bashupload\.com|oshi\.at|discord(?:app)?\.com\/api\/webhooks|api\.telegram\.org\/bot)\b/gi;

const RAW_IP_URL = /\b(?:https?|tcp|udp|wss?|ftp):\/\/(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?/gi;

function privateIp(ip: string): boolean {
  const p = ip.split('.').map(Number);
  const [a = 0, b = 0] = p;
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 192 && b === 168) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 169 && b === 254)
  );
}

export interface HostMatch {
  host: string;
  index: number;
  length: number;
  kind: 'collector' | 'raw-ip';
}

/** Collector hosts and public bare-IP URLs in `text`. */
export function exfilHosts(text: string): HostMatch[] {
  const out: HostMatch[] = [];
  for (const m of text.matchAll(EXFIL_HOST))
    out.push({ host: m[0], index: m.index, length: m[0].length, kind: 'collector' });
  for (const m of text.matchAll(RAW_IP_URL)) {
    if (!privateIp(m[1] ?? '')) out.push({ host: m[0], index: m.index, length: m[0].length, kind: 'raw-ip' });
  }
  return out;
}
