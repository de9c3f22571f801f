// The verified-token cache of the request verifier: a signature is verified once per token and
// key, and everything else is still checked on every request. A key that stops being current, a
// reloaded key set, an expired token, a bad signature: none of them is covered by the cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { TokenError } from '../../src/identity/errors.js';
import { VerifiedTokens, verifyAccessToken } from '../../src/identity/access-token.js';
import { signCompactJws } from '../../src/identity/jws.js';
import type { ServiceKeys, VerificationKey } from '../../src/identity/keys.js';

const ISSUER = 'https://warden.test';
const OPTIONS = { issuer: ISSUER, audience: 'mcp', leewaySeconds: 5, maxTokenBytes: 8192 };
const NOW = 1_800_000_000_000;

function keyPair(kid: string): {
  signing: ReturnType<typeof generateKeyPairSync>;
  verifying: VerificationKey;
} {
  const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    signing,
    verifying: {
      kid,
      alg: 'ES256',
      publicJwk: { kty: 'EC', crv: 'P-256', x: '', y: '' },
      key: signing.publicKey,
      verifyUntil: null,
    },
  };
}

/** A key set whose current keys a test can change. */
function keySet(initial: VerificationKey[]): {
  keys: ServiceKeys;
  set: (k: VerificationKey[]) => void;
} {
  let current = new Map(initial.map((k) => [k.kid, k]));
  const keys = { verifier: (kid: string) => current.get(kid) } as unknown as ServiceKeys;
  return { keys, set: (k) => (current = new Map(k.map((x) => [x.kid, x]))) };
}

function token(pair: ReturnType<typeof keyPair>, claims: Record<string, unknown> = {}): string {
  const t = NOW / 1000;
  return signCompactJws(
    'ES256',
    pair.signing.privateKey,
    { typ: 'at+jwt', kid: pair.verifying.kid },
    {
      iss: ISSUER,
      sub: 'spiffe://warden.test/agent/a/b',
      aud: ['mcp'],
      exp: t + 600,
      iat: t,
      nbf: t,
      jti: 'j1',
      client_id: 'spiffe://warden.test/agent/a/b',
      scope: 'mcp',
      cnf: { jkt: 'x' },
      sponsor: 's@example.com',
      blueprint: 'a',
      grants: [],
      ...claims,
    },
  );
}

function refusedWith(f: () => unknown, code: string): void {
  assert.throws(f, (err: unknown) => err instanceof TokenError && err.code === code);
}

test('a verified token is remembered with its key; its claims are checked on every request', () => {
  const pair = keyPair('k1');
  const { keys } = keySet([pair.verifying]);
  const verified = new VerifiedTokens();
  const t = token(pair);
  const first = verifyAccessToken(t, keys, OPTIONS, NOW, verified);
  const again = verifyAccessToken(t, keys, OPTIONS, NOW + 1000, verified);
  assert.equal(again, first, 'the remembered claims');
  assert.ok(Object.isFrozen(again) && Object.isFrozen(again.aud) && Object.isFrozen(again.cnf));
  // Time, issuer and audience are checked again, not remembered.
  refusedWith(() => verifyAccessToken(t, keys, OPTIONS, NOW + 700_000, verified), 'token_expired');
  refusedWith(
    () => verifyAccessToken(t, keys, { ...OPTIONS, issuer: 'https://other' }, NOW, verified),
    'token_issuer_mismatch',
  );
  refusedWith(
    () => verifyAccessToken(t, keys, { ...OPTIONS, audience: 'other' }, NOW, verified),
    'token_audience_mismatch',
  );
});

test('a key that is no longer current, or was reloaded, is not covered by what was remembered', () => {
  const pair = keyPair('k1');
  const ks = keySet([pair.verifying]);
  const verified = new VerifiedTokens();
  const t = token(pair);
  verifyAccessToken(t, ks.keys, OPTIONS, NOW, verified);
  ks.set([]);
  refusedWith(() => verifyAccessToken(t, ks.keys, OPTIONS, NOW, verified), 'token_kid_unknown');
  // The same kid now names another key: the signature is checked again, and fails.
  const other = keyPair('k1');
  ks.set([other.verifying]);
  refusedWith(() => verifyAccessToken(t, ks.keys, OPTIONS, NOW, verified), 'token_signature_invalid');
  // A reload makes a new key object for the same key: verified again, and accepted.
  ks.set([{ ...pair.verifying }]);
  assert.equal(verifyAccessToken(t, ks.keys, OPTIONS, NOW, verified).jti, 'j1');
});

test('a bad signature is never remembered', () => {
  const pair = keyPair('k1');
  const { keys } = keySet([pair.verifying]);
  const verified = new VerifiedTokens();
  const [h, p] = token(pair).split('.') as [string, string];
  const forged = `${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`;
  for (let i = 0; i < 2; i++)
    refusedWith(() => verifyAccessToken(forged, keys, OPTIONS, NOW, verified), 'token_signature_invalid');
});

test('the cache holds at most its limit, dropping the oldest', () => {
  const pair = keyPair('k1');
  const ks = keySet([pair.verifying]);
  const verified = new VerifiedTokens(2);
  const tokens = ['a1', 'a2', 'a3'].map((jti) => token(pair, { jti }));
  for (const t of tokens) verifyAccessToken(t, ks.keys, OPTIONS, NOW, verified);
  // Only the two newest are remembered.
  assert.equal(verified.lookup(tokens[0] as string, ks.keys, NOW), undefined);
  assert.equal(verified.lookup(tokens[2] as string, ks.keys, NOW)?.jti, 'a3');
});
