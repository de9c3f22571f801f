// The egress proxy of one sandboxed process. The sandbox has no network of its own: a socat
// bridge inside it forwards 127.0.0.1:3128 to this proxy's Unix socket, and HTTP_PROXY points
// there. Every CONNECT tunnel and every plain-HTTP request is a decision (Cedar's `connect` on a
// `Host`, made by the caller's `decide`), taken on the name the client asked for before anything
// is resolved, so a refused name never reaches DNS. An allowed name is resolved here and connected
// by address; a name that resolves to a loopback, link-local or unspecified address is refused
// (DNS rebinding onto Warden's own ports or a metadata service), unless the literal address itself
// was what the policy allowed.

import { lookup } from 'node:dns/promises';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { BlockList, connect, isIP, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ConnectAttempt {
  host: string;
  port: number;
  /** `CONNECT` tunnel or a plain `http://` request (its method). */
  via: 'CONNECT' | 'HTTP';
}

export interface ConnectVerdict {
  allow: boolean;
  /** Why, in a sentence (shown to the sandboxed client on refusal). */
  reason: string;
}

/** Decides one connection and records it; a throw counts as a refusal. */
export type ConnectDecider = (attempt: ConnectAttempt) => Promise<ConnectVerdict>;

const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addAddress('::', 'ipv6');
LOCAL.addSubnet('fe80::', 10, 'ipv6');
LOCAL.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
LOCAL.addSubnet('::ffff:169.254.0.0', 112, 'ipv6');

function isLocal(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOCAL.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** `host:port` of a CONNECT request target, with IPv6 in brackets; undefined when malformed. */
export function parseAuthority(target: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  if (m[1] !== undefined && isIP(host) !== 6) return undefined;
  return { host, port };
}

/** Resolve an allowed name to the address to connect to, refusing local addresses behind names. */
async function resolveTarget(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const addresses = await lookup(host, { all: true, verbatim: true });
  const local = addresses.find((a) => isLocal(a.address));
  if (local) throw new Error(`${host} resolves to a local address (${local.address})`);
  const first = addresses[0];
  if (!first) throw new Error(`${host} does not resolve`);
  return first.address;
}

export interface EgressProxyOptions {
  decide: ConnectDecider;
  /** When running as root: the sandbox's uid, which alone may connect to the socket. */
  owner?: number;
  /** Most tunnels and requests open at once. */
  maxConnections?: number;
  /** Idle time after which a tunnel is closed (ms). */
  idleMs?: number;
}

export class EgressProxy {
  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly dir: string,
    private readonly sockets: Set<Socket>,
  ) {}

  /** Listen on a fresh Unix socket that only the sandbox's user can connect to. */
  static async start(o: EgressProxyOptions): Promise<EgressProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'warden-net-'));
    // Traversable but not listable: bubblewrap, running as the sandbox's user, binds the socket.
    chmodSync(dir, 0o711);
    const socketPath = join(dir, 'proxy.sock');
    const sockets = new Set<Socket>();
    const server = createServer({ maxHeaderSize: 16 * 1024 });
    server.maxConnections = o.maxConnections ?? 64;
    const idleMs = o.idleMs ?? 300_000;
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      void tunnel(o.decide, req, client, head, idleMs);
    });
    server.on('request', (req, res) => {
      void forward(o.decide, req, res);
    });
    server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(socketPath, 0o600);
    if (o.owner !== undefined) chownSync(socketPath, o.owner, o.owner);
    return new EgressProxy(server, socketPath, dir, sockets);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function refuse(client: Socket, status: number, reason: string): void {
  const body = `${reason}\n`;
  client.end(
    `HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : status === 502 ? 'Bad Gateway' : 'Bad Request'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

async function decideSafely(decide: ConnectDecider, attempt: ConnectAttempt): Promise<ConnectVerdict> {
  try {
    return await decide(attempt);
  } catch (err) {
    // INVARIANT: a decision that fails (policy engine, audit log) refuses.
    return { allow: false, reason: `refused: the decision failed (${(err as Error).message})` };
  }
}

async function tunnel(
  decide: ConnectDecider,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  idleMs: number,
): Promise<void> {
  client.on('error', () => client.destroy());
  const target = parseAuthority(req.url ?? '');
  if (!target) return refuse(client, 400, 'CONNECT needs host:port');
  const verdict = await decideSafely(decide, { ...target, via: 'CONNECT' });
  if (!verdict.allow) return refuse(client, 403, verdict.reason);
  let address: string;
  try {
    address = await resolveTarget(target.host);
  } catch (err) {
    return refuse(client, 502, (err as Error).message);
  }
  const upstream = connect({ host: address, port: target.port });
  upstream.setTimeout(idleMs, () => upstream.destroy());
  client.setTimeout(idleMs, () => client.destroy());
  upstream.once('connect', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', (err) => {
    if (!client.destroyed && client.writable && upstream.bytesRead === 0) refuse(client, 502, err.message);
    else client.destroy();
  });
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => client.destroy());
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own are not forwarded.
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

async function forward(decide: ConnectDecider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fail = (status: number, reason: string): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end(`${reason}\n`);
  };
  let url: URL;
  try {
    url = new URL(req.url ?? '');
  } catch {
    return fail(400, 'a proxy request needs an absolute http:// URL (use CONNECT for https)');
  }
  if (url.protocol !== 'http:') return fail(400, 'only http:// is forwarded; https goes through CONNECT');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = url.port ? Number(url.port) : 80;
  const verdict = await decideSafely(decide, { host, port, via: 'HTTP' });
  if (!verdict.allow) return fail(403, verdict.reason);
  let address: string;
  try {
    address = await resolveTarget(host);
  } catch (err) {
    return fail(502, (err as Error).message);
  }
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  const out = httpRequest(
    { host: address, port, method: req.method, path: `${url.pathname}${url.search}`, headers },
    (up) => {
      const back: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) back[k] = v;
      res.writeHead(up.statusCode ?? 502, back);
      up.pipe(res);
    },
  );
  out.on('error', (err) => fail(502, err.message));
  req.pipe(out);
}
