// End to end over real HTTP: issuance, protected requests, delegation, grants and revocation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { jwtVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader } from 'jose';
import {
  startHarness,
  tokenRequest,
  getToken,
  exchange,
  whoami,
  countEvents,
  rawRequest,
  SPONSOR,
  type Harness,
} from '../helpers/identity.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

test('metadata and JWKS describe the service', async () => {
  const meta = await rawRequest(`${h.issuer}/.well-known/oauth-authorization-server`, 'GET', []);
  assert.equal(meta.status, 200);
  assert.equal(meta.body['issuer'], h.issuer);
  assert.equal(meta.body['token_endpoint'], h.tokenUrl);
  assert.deepEqual(meta.body['dpop_signing_alg_values_supported'], ['ES256', 'EdDSA']);
  const jwks = await rawRequest(`${h.issuer}/.well-known/jwks.json`, 'GET', []);
  const keys = jwks.body['keys'] as Array<Record<string, unknown>>;
  assert.equal(keys.length, 1);
  assert.equal(keys[0]?.['d'], undefined, 'no private member in the JWKS');
});

test('client credentials issue a DPoP-bound at+jwt that verifies with jose against the JWKS', async () => {
  const agent = await h.agent('research/planner');
  const r = await tokenRequest(h, agent);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body['token_type'], 'DPoP');
  assert.equal(r.body['refresh_token'], undefined);
  assert.equal(r.body['scope'], 'mcp:read files:read');
  assert.ok((r.body['expires_in'] as number) <= 600);
  const token = r.body['access_token'] as string;
  assert.equal(decodeProtectedHeader(token).typ, 'at+jwt');
  const { payload } = await jwtVerify(
    token,
    createRemoteJWKSet(new URL(`${h.issuer}/.well-known/jwks.json`)),
    {
      issuer: h.issuer,
      audience: h.audience,
      typ: 'at+jwt',
    },
  );
  assert.equal(payload.sub, agent.id);
  assert.equal(payload['sponsor'], SPONSOR);
  assert.equal(payload['blueprint'], 'research');
  assert.deepEqual(payload['cnf'], { jkt: await agent.thumbprint() });

  const ok = await whoami(h, `DPoP ${token}`, [
    await agent.proof('GET', h.whoamiUrl, { accessToken: token }),
  ]);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body['agent'], agent.id);
  assert.deepEqual(ok.body['chain'], [agent.id]);
  assert.deepEqual(ok.body['scopes'], ['mcp:read', 'files:read']);
});

test('delegation narrows and carries the act chain; a grandchild token dies when the root is suspended', async () => {
  const root = await h.agent('research/root1');
  const child = await h.agent('research/child1');
  const grandchild = await h.agent('reader/grandchild1');
  const rootToken = await getToken(h, root);
  const r1 = await exchange(h, child, rootToken, { scope: 'mcp:read' });
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  const childToken = r1.body['access_token'] as string;
  const c = decodeJwt(childToken);
  assert.equal(c.sub, root.id);
  assert.deepEqual(c['act'], { sub: child.id });
  assert.ok((c.exp ?? 0) <= (decodeJwt(rootToken).exp ?? 0));
  const r2 = await exchange(h, grandchild, childToken);
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  const gToken = r2.body['access_token'] as string;
  assert.deepEqual(decodeJwt(gToken)['act'], { sub: grandchild.id, act: { sub: child.id } });
  const ok = await whoami(h, `DPoP ${gToken}`, [
    await grandchild.proof('GET', h.whoamiUrl, { accessToken: gToken }),
  ]);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body['chain'], [grandchild.id, child.id, root.id]);
  assert.equal(ok.body['depth'], 2);

  await h.w.registry.suspendAgent(root.id);
  const started = Date.now();
  let refused;
  for (;;) {
    refused = await whoami(h, `DPoP ${gToken}`, [
      await grandchild.proof('GET', h.whoamiUrl, { accessToken: gToken }),
    ]);
    if (refused.status !== 200 || Date.now() - started > 3000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const elapsed = Date.now() - started;
  assert.equal(refused.status, 401);
  assert.equal(refused.body['warden_reason'], 'agent_inactive');
  assert.ok(elapsed < 1000, `revocation took ${elapsed} ms`);
  assert.ok((await countEvents(h, 'token.exchanged')) >= 2);
});
