// The DPoP verifier remembers what it derives from a proof's header (the key, its thumbprint), the
// access token's hash and the URLs it normalises. Each is a pure function of its exact text; these
// tests check that a remembered header still has every other check applied, request by request,
// and that a header that failed is never remembered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { accessTokenHash, DpopVerifier } from '../../src/identity/dpop.js';
import { generateAgentKey, jwkThumbprint, type AgentAlg, type PublicJwk } from '../../src/identity/jwk.js';
import { signCompactJws } from '../../src/identity/jws.js';

const URL_ = 'https://gw.example/mcp';
const NOW = 1_800_000_000_000;

function agent(alg: AgentAlg = 'ES256'): { key: KeyObject; jwk: PublicJwk; jkt: string } {
  const { publicJwk, privateJwk } = generateAgentKey(alg);
  return {
    key: createPrivateKey({ key: privateJwk as never, format: 'jwk' }),
    jwk: publicJwk,
    jkt: jwkThumbprint(publicJwk),
  };
}

function proof(
  a: ReturnType<typeof agent>,
  token: string,
  over: Record<string, unknown> = {},
  alg: AgentAlg = 'ES256',
): string {
  return signCompactJws(
    alg,
    a.key,
    { typ: 'dpop+jwt', jwk: a.jwk },
    { htm: 'POST', htu: URL_, iat: NOW / 1000, jti: randomUUID(), ath: accessTokenHash(token), ...over },
  );
}

const verifier = (algorithms: AgentAlg[] = ['ES256', 'EdDSA']) =>
  new DpopVerifier({ algorithms, iatWindowSeconds: 60, requireNonce: false, replayCacheSize: 1000 });

function refused(f: () => unknown, code: string): void {
  assert.throws(f, (err: unknown) => (err as { code?: string }).code === code, code);
}

test('a remembered header is checked against the token, the signature and the claims every time', () => {
  const v = verifier();
  const a = agent();
  const other = agent();
  const check = { method: 'POST', url: URL_, accessToken: 'token-a', expectedJkt: a.jkt };
  // The first proof from this key: its header is checked and remembered.
  assert.equal(v.verify(proof(a, 'token-a'), check, NOW).jkt, a.jkt);
  assert.equal(v.verify(proof(a, 'token-a'), check, NOW).jkt, a.jkt);

  // The same header, now remembered: each of these is still refused.
  const good = proof(a, 'token-a');
  const forged = `${good.slice(0, good.lastIndexOf('.'))}.${proof(other, 'token-a').split('.')[2] ?? ''}`;
  refused(() => v.verify(forged, check, NOW), 'dpop_signature_invalid');
  refused(
    () => v.verify(proof(a, 'token-a'), { ...check, expectedJkt: other.jkt }, NOW),
    'dpop_key_mismatch',
  );
  refused(
    () => v.verify(proof(a, 'token-a'), { ...check, accessToken: 'token-b' }, NOW),
    'dpop_ath_mismatch',
  );
  refused(
    () => v.verify(proof(a, 'token-a', { htu: 'https://evil.example/mcp' }), check, NOW),
    'dpop_htu_mismatch',
  );
  refused(
    () => v.verify(proof(a, 'token-a'), { ...check, url: 'https://gw.example/other' }, NOW),
    'dpop_htu_mismatch',
  );
  refused(() => v.verify(proof(a, 'token-a', { htm: 'GET' }), check, NOW), 'dpop_htm_mismatch');
  refused(
    () => v.verify(proof(a, 'token-a', { iat: NOW / 1000 - 600 }), check, NOW),
    'dpop_iat_out_of_window',
  );
  const [h, , s] = good.split('.') as [string, string, string];
  refused(() => v.verify(`${h}.not*base64.${s}`, check, NOW), 'dpop_malformed');
  refused(() => v.verify(`${h}.${s}`, check, NOW), 'dpop_malformed');
  assert.equal(v.verify(good, check, NOW).jkt, a.jkt);
  refused(() => v.verify(good, check, NOW + 1), 'dpop_jti_replayed');
});

test('a header that fails is refused every time, and each verifier keeps its own', () => {
  const a = agent();
  const edOnly = verifier(['EdDSA']);
  const both = verifier();
  const check = { method: 'POST', url: URL_, accessToken: 'token-a', expectedJkt: a.jkt };
  refused(() => edOnly.verify(proof(a, 'token-a'), check, NOW), 'dpop_alg_not_allowed');
  refused(() => edOnly.verify(proof(a, 'token-a'), check, NOW), 'dpop_alg_not_allowed');
  // The same header, accepted by a verifier that allows ES256, stays refused by the first.
  assert.equal(both.verify(proof(a, 'token-a'), check, NOW).jkt, a.jkt);
  refused(() => edOnly.verify(proof(a, 'token-a'), check, NOW), 'dpop_alg_not_allowed');
  // A header whose alg does not match its key never becomes a known header.
  const ed = agent('EdDSA');
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: ed.jwk })}.${b64({ htm: 'POST', htu: URL_, iat: NOW / 1000, jti: randomUUID() })}`;
  const lying = `${input}.${sign(null, Buffer.from(input), ed.key).toString('base64url')}`;
  refused(() => both.verify(lying, { method: 'POST', url: URL_ }, NOW), 'dpop_jwk_invalid');
  refused(() => both.verify(lying, { method: 'POST', url: URL_ }, NOW), 'dpop_jwk_invalid');
});
