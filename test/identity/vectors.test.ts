// Known-answer tests from the RFCs: a verifier that round-trips with its own signer but fails
// these is wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DpopVerifier } from '../../src/identity/dpop.js';
import { DpopError } from '../../src/identity/errors.js';
import { importPublicJwk, jwkThumbprint, parsePublicJwk } from '../../src/identity/jwk.js';
import { parseCompactJws, verifyJwsSignature } from '../../src/identity/jws.js';
import { ReplayCache } from '../../src/identity/replay-cache.js';

// RFC 8037 Appendix A.2-A.5 (Ed25519 key, thumbprint, signature).
const RFC8037_PUBLIC = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const RFC8037_THUMBPRINT = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k';
const RFC8037_JWS =
  'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';

// RFC 9449 Figure 2 (a DPoP proof for POST https://server.example.com/token at iat 1562262616)
// and Figure 9 (the thumbprint of its key).
const RFC9449_PROOF =
  'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg';
const RFC9449_JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';
const RFC9449_IAT_MS = 1562262616 * 1000;

const verifier = () =>
  new DpopVerifier({
    algorithms: ['ES256', 'EdDSA'],
    iatWindowSeconds: 60,
    requireNonce: false,
    replayCacheSize: 1000,
  });

test('RFC 8037 A.3: Ed25519 JWK thumbprint', () => {
  assert.equal(jwkThumbprint(parsePublicJwk(RFC8037_PUBLIC)), RFC8037_THUMBPRINT);
});

test('RFC 8037 A.5: Ed25519 JWS validation, and a one-bit change fails', () => {
  const key = importPublicJwk(parsePublicJwk(RFC8037_PUBLIC));
  // The RFC's payload is plain text, not a JWT, so the parts are taken apart by hand here.
  const [h, p, s] = RFC8037_JWS.split('.') as [string, string, string];
  const jws = (payload: string) => ({
    header: {},
    payload: {},
    signingInput: `${h}.${payload}`,
    signature: Buffer.from(s, 'base64url'),
  });
  assert.equal(verifyJwsSignature('EdDSA', key, jws(p)), true);
  assert.equal(verifyJwsSignature('EdDSA', key, jws(p.replace(/c$/, 'd'))), false);
  assert.throws(
    () => parseCompactJws(RFC8037_JWS),
    { code: 'token_malformed' },
    'a non-JSON payload is not a token',
  );
});

test('RFC 9449 Figure 2 proof verifies at its time and yields the Figure 9 thumbprint', () => {
  const proof = verifier().verify(
    RFC9449_PROOF,
    { method: 'POST', url: 'https://server.example.com/token' },
    RFC9449_IAT_MS + 5000,
  );
  assert.equal(proof.jkt, RFC9449_JKT);
  assert.equal(proof.jti, '-BwC3ESc6acc2lTc');
});

test('RFC 9449 Figure 2 proof: replay, wrong method, wrong URL, late use and a pinned key are refused', () => {
  const v = verifier();
  const url = 'https://server.example.com/token';
  v.verify(RFC9449_PROOF, { method: 'POST', url }, RFC9449_IAT_MS);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof DpopError);
      return err.code;
    }
    return 'accepted';
  };
  assert.equal(
    code(() => v.verify(RFC9449_PROOF, { method: 'POST', url }, RFC9449_IAT_MS + 1000)),
    'dpop_jti_replayed',
  );
  const fresh = verifier();
  assert.equal(
    code(() => fresh.verify(RFC9449_PROOF, { method: 'GET', url }, RFC9449_IAT_MS)),
    'dpop_htm_mismatch',
  );
  assert.equal(
    code(() =>
      fresh.verify(
        RFC9449_PROOF,
        { method: 'POST', url: 'https://server.example.com/other' },
        RFC9449_IAT_MS,
      ),
    ),
    'dpop_htu_mismatch',
  );
  assert.equal(
    code(() => fresh.verify(RFC9449_PROOF, { method: 'POST', url }, RFC9449_IAT_MS + 61_000)),
    'dpop_iat_out_of_window',
  );
  assert.equal(
    code(() =>
      fresh.verify(RFC9449_PROOF, { method: 'POST', url, expectedJkt: RFC8037_THUMBPRINT }, RFC9449_IAT_MS),
    ),
    'dpop_key_mismatch',
  );
  assert.equal(
    code(() => fresh.verify(RFC9449_PROOF, { method: 'POST', url, accessToken: 'x' }, RFC9449_IAT_MS)),
    'dpop_ath_mismatch',
  );
  // htu normalisation: default port and host case do not matter.
  assert.equal(
    code(() =>
      verifier().verify(
        RFC9449_PROOF,
        { method: 'POST', url: 'https://SERVER.example.com:443/token' },
        RFC9449_IAT_MS,
      ),
    ),
    'accepted',
  );
});

test('JWK parsing refuses private members, other key types and off-curve points', () => {
  assert.throws(
    () => parsePublicJwk({ ...RFC8037_PUBLIC, d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A' }),
    { code: 'jwk_private' },
  );
  assert.throws(() => parsePublicJwk({ kty: 'oct', k: 'c2VjcmV0' }), { code: 'jwk_private' });
  assert.throws(() => parsePublicJwk({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }), { code: 'jwk_invalid' });
  assert.throws(() => parsePublicJwk({ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' }), { code: 'jwk_invalid' });
  assert.throws(() => parsePublicJwk({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }), { code: 'jwk_invalid' });
  const offCurve = parsePublicJwk({
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.alloc(32, 1).toString('base64url'),
    y: Buffer.alloc(32, 2).toString('base64url'),
  });
  assert.throws(() => importPublicJwk(offCurve), { code: 'jwk_invalid' });
});

test('the replay cache forgets only expired ids and refuses when full', () => {
  const c = new ReplayCache(2, 1000);
  assert.equal(c.remember('a', 0), 'ok');
  assert.equal(c.remember('a', 500), 'replayed');
  assert.equal(c.remember('b', 600), 'ok');
  assert.equal(c.remember('c', 700), 'full');
  assert.equal(c.remember('c', 1001), 'ok', 'a expired, making room');
  assert.equal(c.remember('b', 1500), 'replayed');
  assert.equal(c.size, 2);
});
