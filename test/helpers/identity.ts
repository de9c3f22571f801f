// Test harness for the identity service: a real HTTP server on loopback, and agent clients that
// sign their own assertions and DPoP proofs with jose, an implementation independent of Warden's.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint, type CryptoKey, type JWK } from 'jose';
import { readEvents } from '../../src/audit/index.js';
import { initDataDir, openWarden, type Warden } from '../../src/cli/context.js';
import { startIdentityService, type IdentityService } from '../../src/identity/index.js';

export const SPONSOR = 'alice@example.com';
export const OTHER_SPONSOR = 'bob@example.com';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One HTTP request with raw header pairs, so a test can send a header twice. */
export function rawRequest(
  url: string,
  method: string,
  headers: Array<[string, string]>,
  body?: string,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    // With raw header pairs Node adds no Host header of its own.
    const flat: string[] = ['host', new URL(url).host];
    for (const [k, v] of headers) flat.push(k, v);
    if (body !== undefined)
      flat.push(
        'content-type',
        'application/x-www-form-urlencoded',
        'content-length',
        String(Buffer.byteLength(body)),
      );
    const req = request(url, { method, headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try {
          parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          parsed = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function form(params: Record<string, string | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  return u.toString();
}

export interface ProofOptions {
  accessToken?: string;
  nonce?: string;
  iat?: number;
  jti?: string;
  htm?: string;
  htu?: string;
  /** Extra or overriding protected-header members. */
  header?: Record<string, unknown>;
  /** Sign with this key instead of the agent's own. */
  key?: CryptoKey;
  jwk?: JWK;
  omit?: string[];
}

export class TestAgent {
  constructor(
    readonly id: string,
    readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
  ) {}

  static async generate(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    return { privateKey, publicJwk };
  }

  async thumbprint(): Promise<string> {
    return calculateJwkThumbprint(this.publicJwk, 'sha256');
  }

  /** RFC 7523 client assertion. */
  async assertion(aud: string, claims: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: this.id,
      sub: this.id,
      aud,
      jti: randomBytes(12).toString('base64url'),
      iat: now,
      exp: now + 60,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .sign(this.privateKey);
  }

  /** RFC 9449 DPoP proof. */
  async proof(method: string, url: string, o: ProofOptions = {}): Promise<string> {
    const payload: Record<string, unknown> = {
      htm: o.htm ?? method,
      htu: o.htu ?? url,
      iat: o.iat ?? Math.floor(Date.now() / 1000),
      jti: o.jti ?? randomBytes(12).toString('base64url'),
    };
    if (o.accessToken !== undefined) {
      const { createHash } = await import('node:crypto');
      payload['ath'] = createHash('sha256').update(o.accessToken).digest('base64url');
    }
    if (o.nonce !== undefined) payload['nonce'] = o.nonce;
    for (const k of o.omit ?? []) delete payload[k];
    const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: o.jwk ?? this.publicJwk, ...o.header };
    return new SignJWT(payload).setProtectedHeader(header).sign(o.key ?? this.privateKey);
  }
}

export interface Harness {
  dataDir: string;
  w: Warden;
  svc: IdentityService;
  issuer: string;
  tokenUrl: string;
  whoamiUrl: string;
  audience: string;
  agent(ref: string, sponsor?: string): Promise<TestAgent>;
  /** Sign arbitrary claims with the service's own current key (to build tokens Warden never issued). */
  signAsService(header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(configYaml?: string): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  if (configYaml !== undefined) writeFileSync(join(dataDir, 'warden.yaml'), configYaml, { mode: 0o600 });
  const init = await initDataDir(dataDir);
  const w = await openWarden(dataDir);
  await w.registry.addSponsor({ id: SPONSOR, name: 'Alice' });
  await w.registry.addSponsor({ id: OTHER_SPONSOR, name: 'Bob' });
  await w.registry.createBlueprint({
    name: 'research',
    sponsors: [SPONSOR, OTHER_SPONSOR],
    envelope: {
      servers: ['*'],
      tools: ['*'],
      scopes: ['mcp:read', 'files:read', 'files:write', 'mail:send'],
    },
    baseScope: ['mcp:read', 'files:read'],
  });
  await w.registry.createBlueprint({
    name: 'reader',
    sponsors: [SPONSOR],
    envelope: { servers: ['*'], tools: ['*'], scopes: ['mcp:read'] },
    baseScope: ['mcp:read'],
  });
  const svc = await startIdentityService({
    dataDir,
    config: w.config,
    store: w.store,
    audit: w.audit,
    port: 0,
  });
  const issuer = svc.issuer;
  const kid = init.createdKey as string;
  return {
    dataDir,
    w,
    svc,
    issuer,
    tokenUrl: `${issuer}/oauth/token`,
    whoamiUrl: `${issuer}/v1/whoami`,
    audience: `${issuer}/mcp`,
    async agent(ref: string, sponsor = SPONSOR) {
      const [blueprint, name] = ref.split('/') as [string, string];
      const { privateKey, publicJwk } = await TestAgent.generate();
      const agent = await w.registry.createAgent({ blueprint, name, sponsor, publicJwk });
      await svc.state.refresh();
      return new TestAgent(agent.id, privateKey, publicJwk);
    },
    async signAsService(header, payload) {
      // Signed with node:crypto directly: jose rightly refuses to produce some of the bad headers tested.
      const { createPrivateKey, sign } = await import('node:crypto');
      const jwk = JSON.parse(readFileSync(join(dataDir, 'keys', `token-${kid}.jwk`), 'utf8')) as Record<
        string,
        string
      >;
      const key = createPrivateKey({ key: jwk, format: 'jwk' });
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${enc({ alg: 'ES256', typ: 'at+jwt', kid, ...header })}.${enc(payload)}`;
      const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      return `${input}.${sig.toString('base64url')}`;
    },
    async close() {
      await svc.close();
      await w.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Client credentials for `agent`, with extra form parameters. */
export async function tokenRequest(
  h: Harness,
  agent: TestAgent,
  extra: Record<string, string | string[]> = {},
  proof?: string | string[],
): Promise<HttpResult> {
  const dpop = proof ?? (await agent.proof('POST', h.tokenUrl));
  const headers: Array<[string, string]> = (Array.isArray(dpop) ? dpop : [dpop]).map((p) => ['DPoP', p]);
  return rawRequest(
    h.tokenUrl,
    'POST',
    headers,
    form({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await agent.assertion(h.tokenUrl),
      ...extra,
    }),
  );
}

export async function getToken(
  h: Harness,
  agent: TestAgent,
  extra: Record<string, string | string[]> = {},
): Promise<string> {
  const r = await tokenRequest(h, agent, extra);
  if (r.status !== 200) throw new Error(`token request failed: ${JSON.stringify(r.body)}`);
  return r.body['access_token'] as string;
}

/** RFC 8693 exchange: `child` presents `parentToken` as subject and its own assertion as actor. */
export async function exchange(
  h: Harness,
  child: TestAgent,
  parentToken: string,
  extra: Record<string, string> = {},
): Promise<HttpResult> {
  return rawRequest(
    h.tokenUrl,
    'POST',
    [['DPoP', await child.proof('POST', h.tokenUrl)]],
    form({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: parentToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      actor_token: await child.assertion(h.tokenUrl),
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      ...extra,
    }),
  );
}

/** A protected request to `/v1/whoami` with the given token and proofs. */
export async function whoami(
  h: Harness,
  authorization: string | undefined,
  proofs: string[],
): Promise<HttpResult> {
  const headers: Array<[string, string]> = [];
  if (authorization !== undefined) headers.push(['Authorization', authorization]);
  for (const p of proofs) headers.push(['DPoP', p]);
  return rawRequest(h.whoamiUrl, 'GET', headers);
}

/** Count audit events of a type (to show that a refusal issued nothing). */
export async function countEvents(h: Harness, type: string): Promise<number> {
  return (await readEvents(h.w.store, { type })).length;
}
