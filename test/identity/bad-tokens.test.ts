// Every bad access token and DPoP proof named by the identity issue, each refused with its exact
// error over real HTTP. A refused protected request changes nothing, which the audit counts show.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, decodeJwt } from 'jose';
import {
  startHarness,
  getToken,
  whoami,
  countEvents,
  TestAgent,
  type Harness,
  type HttpResult,
} from '../helpers/identity.js';

let h: Harness;
let agent: TestAgent;
let token: string;
let claims: Record<string, unknown>;

before(async () => {
  h = await startHarness();
  agent = await h.agent('research/victim');
  token = await getToken(h, agent);
  claims = decodeJwt(token);
});
after(async () => {
  await h.close();
});

function assertRefused(r: HttpResult, error: string, reason: string, description?: string | RegExp): void {
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.body['error'], error);
  assert.equal(r.body['warden_reason'], reason);
  const challenge = String(r.headers['www-authenticate'] ?? '');
  assert.match(challenge, /^DPoP /);
  if (error) assert.ok(challenge.includes(`error="${error}"`), challenge);
  if (description instanceof RegExp) assert.match(String(r.body['error_description']), description);
  else if (description !== undefined) assert.equal(r.body['error_description'], description);
  assert.equal(r.body['agent'], undefined, 'no principal leaks in a refusal');
}

/** Present `t` with a correct DPoP proof for it. */
async function present(t: string): Promise<HttpResult> {
  return whoami(h, `DPoP ${t}`, [await agent.proof('GET', h.whoamiUrl, { accessToken: t })]);
}

function b64(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

describe('access tokens', () => {
  test('alg none is refused before any key is touched', async () => {
    const t = `${b64({ alg: 'none', typ: 'at+jwt', kid: 'x' })}.${b64(claims)}.`;
    // an empty signature part is malformed already; give it one byte so the alg check is what fails
    const r = await present(`${t}AA`);
    assertRefused(
      r,
      'invalid_token',
      'token_alg_not_allowed',
      'token algorithm `none` is not allowed: only ES256',
    );
  });

  test('HS256 signed with the service public key (algorithm confusion) is refused', async () => {
    const jwks = (await (await fetch(`${h.issuer}/.well-known/jwks.json`)).json()) as {
      keys: Array<Record<string, string>>;
    };
    const pub = JSON.stringify(jwks.keys[0]);
    const head = b64({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0]?.['kid'] });
    const body = b64(claims);
    const sig = createHmac('sha256', pub).update(`${head}.${body}`).digest('base64url');
    const r = await present(`${head}.${body}.${sig}`);
    assertRefused(
      r,
      'invalid_token',
      'token_alg_not_allowed',
      'token algorithm `HS256` is not allowed: only ES256',
    );
  });

  test('an unknown crit header is refused', async () => {
    const t = await h.signAsService({ crit: ['exp-magic'], 'exp-magic': true }, claims);
    assertRefused(await present(t), 'invalid_token', 'token_crit_unsupported', /critical headers/);
  });

  test('an unknown kid is refused', async () => {
    const t = await h.signAsService({ kid: 'no-such-key' }, claims);
    assertRefused(
      await present(t),
      'invalid_token',
      'token_kid_unknown',
      'token key id `no-such-key` is not a current Warden signing key',
    );
  });

  test('a token signed by another key under a known kid fails its signature', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const kid = decodeJwtHeaderKid(token);
    const t = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .sign(privateKey);
    assertRefused(await present(t), 'invalid_token', 'token_signature_invalid');
  });

  test('an expired token is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = await h.signAsService({}, { ...claims, iat: now - 3600, nbf: now - 3600, exp: now - 120 });
    assertRefused(await present(t), 'invalid_token', 'token_expired', 'the access token has expired');
  });

  test('nbf in the future is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = await h.signAsService({}, { ...claims, nbf: now + 600, exp: now + 900 });
    assertRefused(
      await present(t),
      'invalid_token',
      'token_not_yet_valid',
      'the access token is not valid yet',
    );
  });

  test('a wrong issuer is refused', async () => {
    const t = await h.signAsService({}, { ...claims, iss: 'https://evil.example' });
    assertRefused(
      await present(t),
      'invalid_token',
      'token_issuer_mismatch',
      /token issuer `https:\/\/evil.example` is not/,
    );
  });

  test('a wrong audience is refused', async () => {
    const t = await h.signAsService({}, { ...claims, aud: 'https://other.example/mcp' });
    assertRefused(
      await present(t),
      'invalid_token',
      'token_audience_mismatch',
      /token audience does not include/,
    );
  });

  test('a wrong typ is refused', async () => {
    const t = await h.signAsService({ typ: 'JWT' }, claims);
    assertRefused(
      await present(t),
      'invalid_token',
      'token_typ_invalid',
      'token typ must be `at+jwt`, not `JWT`',
    );
  });

  test('broken base64 and broken JSON are refused as malformed', async () => {
    const [hd, pl, sg] = token.split('.') as [string, string, string];
    assertRefused(
      await present(`${hd}.${pl}!!.${sg}`),
      'invalid_token',
      'token_malformed',
      'a JWS part is empty or not base64url',
    );
    const notJson = Buffer.from('{"alg":"ES256",').toString('base64url');
    assertRefused(
      await present(`${notJson}.${pl}.${sg}`),
      'invalid_token',
      'token_malformed',
      'the JWS header is not base64url-encoded JSON',
    );
    assertRefused(
      await present(`${hd}.${pl}`),
      'invalid_token',
      'token_malformed',
      'a JWS must have exactly three dot-separated parts',
    );
    const arrayPayload = Buffer.from('[1,2]').toString('base64url');
    assertRefused(
      await present(`${hd}.${arrayPayload}.${sg}`),
      'invalid_token',
      'token_malformed',
      'the JWS payload is not a JSON object',
    );
  });

  test('a token larger than 8 KiB is refused before parsing', async () => {
    const t = await h.signAsService({}, { ...claims, padding: 'x'.repeat(9000) });
    assertRefused(
      await present(t),
      'invalid_token',
      'token_too_large',
      'the access token is larger than 8192 bytes',
    );
  });

  test('a Bearer-scheme presentation of a DPoP-bound token is refused', async () => {
    const r = await whoami(h, `Bearer ${token}`, []);
    assertRefused(r, 'invalid_dpop_proof', 'dpop_missing', /use the DPoP scheme/);
  });
});

function decodeJwtHeaderKid(t: string): string {
  return (JSON.parse(Buffer.from(t.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
}

describe('DPoP proofs on protected requests', () => {
  test('a missing proof is refused', async () => {
    assertRefused(
      await whoami(h, `DPoP ${token}`, []),
      'invalid_dpop_proof',
      'dpop_missing',
      'no DPoP proof: send one `DPoP` header',
    );
  });

  test('two DPoP headers are refused', async () => {
    const p1 = await agent.proof('GET', h.whoamiUrl, { accessToken: token });
    const p2 = await agent.proof('GET', h.whoamiUrl, { accessToken: token });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [p1, p2]),
      'invalid_dpop_proof',
      'dpop_multiple',
      'more than one DPoP header',
    );
  });

  test('a wrong htm is refused', async () => {
    const p = await agent.proof('GET', h.whoamiUrl, { accessToken: token, htm: 'POST' });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [p]),
      'invalid_dpop_proof',
      'dpop_htm_mismatch',
      /DPoP htm `POST` does not match the request method GET/,
    );
  });

  test('a wrong htu is refused; query and fragment are ignored', async () => {
    const bad = await agent.proof('GET', h.whoamiUrl, { accessToken: token, htu: `${h.issuer}/v1/other` });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [bad]),
      'invalid_dpop_proof',
      'dpop_htu_mismatch',
      /does not match the request URL/,
    );
    const otherHost = await agent.proof('GET', h.whoamiUrl, {
      accessToken: token,
      htu: h.whoamiUrl.replace('127.0.0.1', 'evil.example'),
    });
    assertRefused(await whoami(h, `DPoP ${token}`, [otherHost]), 'invalid_dpop_proof', 'dpop_htu_mismatch');
    const withQuery = await agent.proof('GET', h.whoamiUrl, {
      accessToken: token,
      htu: `${h.whoamiUrl}?a=1#frag`,
    });
    assert.equal((await whoami(h, `DPoP ${token}`, [withQuery])).status, 200);
  });

  test('a stale or future iat is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stale = await agent.proof('GET', h.whoamiUrl, { accessToken: token, iat: now - 120 });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [stale]),
      'invalid_dpop_proof',
      'dpop_iat_out_of_window',
      /the window is 60 s/,
    );
    const future = await agent.proof('GET', h.whoamiUrl, { accessToken: token, iat: now + 120 });
    assertRefused(await whoami(h, `DPoP ${token}`, [future]), 'invalid_dpop_proof', 'dpop_iat_out_of_window');
  });

  test('a replayed jti is refused', async () => {
    const p = await agent.proof('GET', h.whoamiUrl, { accessToken: token });
    assert.equal((await whoami(h, `DPoP ${token}`, [p])).status, 200);
    assertRefused(
      await whoami(h, `DPoP ${token}`, [p]),
      'invalid_dpop_proof',
      'dpop_jti_replayed',
      'the DPoP proof was already used',
    );
    const sameJti = await agent.proof('GET', h.whoamiUrl, {
      accessToken: token,
      jti: decodeJwt(p).jti as string,
    });
    assertRefused(await whoami(h, `DPoP ${token}`, [sameJti]), 'invalid_dpop_proof', 'dpop_jti_replayed');
  });

  test('a missing or wrong ath is refused', async () => {
    const none = await agent.proof('GET', h.whoamiUrl);
    assertRefused(
      await whoami(h, `DPoP ${token}`, [none]),
      'invalid_dpop_proof',
      'dpop_ath_mismatch',
      'the DPoP proof has no ath for the access token',
    );
    const other = await agent.proof('GET', h.whoamiUrl, { accessToken: `${token}x` });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [other]),
      'invalid_dpop_proof',
      'dpop_ath_mismatch',
      'DPoP ath does not match the access token',
    );
  });

  test("a copied token presented with another key's proof is refused (stolen session)", async () => {
    const { privateKey, publicJwk } = await TestAgent.generate();
    const thief = new TestAgent('thief', privateKey, publicJwk);
    const p = await thief.proof('GET', h.whoamiUrl, { accessToken: token });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [p]),
      'invalid_dpop_proof',
      'dpop_key_mismatch',
      'the DPoP proof key is not the key the token is bound to',
    );
  });

  test('private key material in the jwk is refused', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const full = await exportJWK(privateKey);
    const p = await agent.proof('GET', h.whoamiUrl, { accessToken: token, key: privateKey, jwk: full });
    assertRefused(
      await whoami(h, `DPoP ${token}`, [p]),
      'invalid_dpop_proof',
      'dpop_jwk_private',
      'DPoP proof jwk contains private key member `d`',
    );
  });

  test('a symmetric algorithm is refused', async () => {
    const head = b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: agent.publicJwk });
    const body = b64({
      htm: 'GET',
      htu: h.whoamiUrl,
      iat: Math.floor(Date.now() / 1000),
      jti: 'abcdefghijkl',
    });
    const sig = createHmac('sha256', 'secret').update(`${head}.${body}`).digest('base64url');
    assertRefused(
      await whoami(h, `DPoP ${token}`, [`${head}.${body}.${sig}`]),
      'invalid_dpop_proof',
      'dpop_alg_not_allowed',
      'DPoP algorithm `HS256` is not allowed: use one of ES256, EdDSA',
    );
  });

  test('a wrong typ and a forged signature are refused', async () => {
    const typ = await agent.proof('GET', h.whoamiUrl, { accessToken: token, header: { typ: 'JWT' } });
    assertRefused(await whoami(h, `DPoP ${token}`, [typ]), 'invalid_dpop_proof', 'dpop_typ_invalid');
    const p = await agent.proof('GET', h.whoamiUrl, { accessToken: token });
    const forged = p.slice(0, -4) + (p.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assertRefused(await whoami(h, `DPoP ${token}`, [forged]), 'invalid_dpop_proof', 'dpop_signature_invalid');
  });

  test('a refused request issues nothing and is recorded as refused', async () => {
    const issued = await countEvents(h, 'token.issued');
    const refusals = await countEvents(h, 'request.refused');
    await whoami(h, `DPoP ${token}`, []);
    assert.equal(await countEvents(h, 'token.issued'), issued);
    assert.equal(await countEvents(h, 'request.refused'), refusals + 1);
  });
});
