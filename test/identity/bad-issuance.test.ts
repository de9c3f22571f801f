// The token endpoint's refusals (client authentication, DPoP, delegation that would widen
// anything) and cascading revocation, over real HTTP. Every refusal asserts its exact error and
// that no token was issued.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import {
  startHarness,
  tokenRequest,
  getToken,
  exchange,
  whoami,
  countEvents,
  rawRequest,
  form,
  TestAgent,
  SPONSOR,
  OTHER_SPONSOR,
  type Harness,
  type HttpResult,
} from '../helpers/identity.js';
import { createSigningKey } from '../../src/identity/index.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

/** Run `fn`, assert it was refused with `error`/`reason`, and that nothing was issued. */
async function refused(
  fn: () => Promise<HttpResult>,
  status: number,
  error: string,
  reason: string | undefined,
  description?: string | RegExp,
): Promise<HttpResult> {
  const issued = (await countEvents(h, 'token.issued')) + (await countEvents(h, 'token.exchanged'));
  const refusals = await countEvents(h, 'token.refused');
  const r = await fn();
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body['error'], error, JSON.stringify(r.body));
  assert.equal(r.body['warden_reason'], reason, JSON.stringify(r.body));
  assert.equal(r.body['access_token'], undefined);
  if (description instanceof RegExp) assert.match(String(r.body['error_description']), description);
  else if (description !== undefined) assert.equal(r.body['error_description'], description);
  assert.equal(
    (await countEvents(h, 'token.issued')) + (await countEvents(h, 'token.exchanged')),
    issued,
    'nothing issued',
  );
  assert.equal(await countEvents(h, 'token.refused'), refusals + 1, 'the refusal is audited');
  return r;
}

async function presentOk(agent: TestAgent, t: string): Promise<HttpResult> {
  return whoami(h, `DPoP ${t}`, [await agent.proof('GET', h.whoamiUrl, { accessToken: t })]);
}

describe('token endpoint', () => {
  test('no DPoP proof, two proofs, or a proof by another key are refused', async () => {
    const a = await h.agent('research/te1');
    await refused(
      async () =>
        rawRequest(
          h.tokenUrl,
          'POST',
          [],
          form({
            grant_type: 'client_credentials',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: await a.assertion(h.tokenUrl),
          }),
        ),
      400,
      'invalid_dpop_proof',
      'dpop_missing',
    );
    await refused(
      async () =>
        tokenRequest(h, a, {}, [await a.proof('POST', h.tokenUrl), await a.proof('POST', h.tokenUrl)]),
      400,
      'invalid_dpop_proof',
      'dpop_multiple',
    );
    const other = await TestAgent.generate();
    const foreign = new TestAgent(a.id, other.privateKey, other.publicJwk);
    await refused(
      async () => tokenRequest(h, a, {}, await foreign.proof('POST', h.tokenUrl)),
      400,
      'invalid_dpop_proof',
      undefined,
      'the DPoP proof must be signed with the agent key the assertion was signed with',
    );
    await refused(
      async () => tokenRequest(h, a, {}, await a.proof('POST', `${h.issuer}/elsewhere`)),
      400,
      'invalid_dpop_proof',
      'dpop_htu_mismatch',
    );
  });

  test('bad client assertions are refused as invalid_client', async () => {
    const a = await h.agent('research/te2');
    const post = async (assertion: string) =>
      rawRequest(
        h.tokenUrl,
        'POST',
        [['DPoP', await a.proof('POST', h.tokenUrl)]],
        form({
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      );
    await refused(
      async () => post(await a.assertion('https://elsewhere.example/token')),
      401,
      'invalid_client',
      undefined,
      /aud must be the token endpoint/,
    );
    const now = Math.floor(Date.now() / 1000);
    await refused(
      async () => post(await a.assertion(h.tokenUrl, { exp: now - 600, iat: now - 700 })),
      401,
      'invalid_client',
      undefined,
      'client_assertion: the assertion has expired',
    );
    await refused(
      async () => post(await a.assertion(h.tokenUrl, { exp: now + 3600 })),
      401,
      'invalid_client',
      undefined,
      'client_assertion: exp is more than 300 s away',
    );
    const once = await a.assertion(h.tokenUrl);
    assert.equal((await post(once)).status, 200);
    await refused(
      async () => post(once),
      401,
      'invalid_client',
      undefined,
      'client_assertion: the assertion was already used',
    );
    const other = await TestAgent.generate();
    const impostor = new TestAgent(a.id, other.privateKey, other.publicJwk);
    await refused(
      async () => post(await impostor.assertion(h.tokenUrl)),
      401,
      'invalid_client',
      undefined,
      'client_assertion: the signature does not verify with the agent key',
    );
    const ghost = new TestAgent(
      'spiffe://warden.local/agent/research/ghost',
      other.privateKey,
      other.publicJwk,
    );
    await refused(
      async () => post(await ghost.assertion(h.tokenUrl)),
      401,
      'invalid_client',
      undefined,
      'client_assertion: agent `spiffe://warden.local/agent/research/ghost` is not registered',
    );
  });

  test('scope beyond the base scope and active grants is refused', async () => {
    const a = await h.agent('research/te3');
    await refused(
      () => tokenRequest(h, a, { scope: 'mcp:read mail:send' }),
      400,
      'invalid_scope',
      undefined,
      `scope \`mail:send\` is not available to agent \`${a.id}\`: not in its base scope or an active grant`,
    );
    await refused(
      () => tokenRequest(h, a, { resource: 'https://evil.example/mcp' }),
      400,
      'invalid_target',
      'audience_widened',
    );
    await refused(
      () => tokenRequest(h, a, { expires_in: '3600' }),
      400,
      'invalid_request',
      'lifetime_extended',
      'requested lifetime of 3600 s exceeds the blueprint ceiling of 600 s',
    );
    const narrowed = await tokenRequest(h, a, { scope: 'mcp:read', expires_in: '60' });
    assert.equal(narrowed.status, 200);
    assert.equal(narrowed.body['scope'], 'mcp:read');
    assert.ok((narrowed.body['expires_in'] as number) <= 60);
  });

  test('server nonces: use_dpop_nonce, then the nonce is accepted', async () => {
    const nh = await startHarness('dpop:\n  requireNonce: true\n');
    try {
      const a = await nh.agent('research/noncer');
      const first = await tokenRequest(nh, a);
      assert.equal(first.status, 400);
      assert.equal(first.body['error'], 'use_dpop_nonce');
      const nonce = String(first.headers['dpop-nonce']);
      assert.ok(nonce.length > 0);
      const second = await tokenRequest(nh, a, {}, await a.proof('POST', nh.tokenUrl, { nonce }));
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const bad = await tokenRequest(nh, a, {}, await a.proof('POST', nh.tokenUrl, { nonce: 'AAAA' }));
      assert.equal(bad.body['error'], 'use_dpop_nonce');
      assert.equal(bad.body['warden_reason'], 'dpop_nonce_invalid');
      const t = second.body['access_token'] as string;
      const noNonce = await whoami(nh, `DPoP ${t}`, [await a.proof('GET', nh.whoamiUrl, { accessToken: t })]);
      assert.equal(noNonce.status, 401);
      assert.equal(noNonce.body['error'], 'use_dpop_nonce');
      const ok = await whoami(nh, `DPoP ${t}`, [
        await a.proof('GET', nh.whoamiUrl, { accessToken: t, nonce: String(noNonce.headers['dpop-nonce']) }),
      ]);
      assert.equal(ok.status, 200);
    } finally {
      await nh.close();
    }
  });
});

describe('delegation only narrows', () => {
  test('widening scope, audience or lifetime is refused', async () => {
    const parent = await h.agent('research/dp1');
    const child = await h.agent('research/dc1');
    const pt = await getToken(h, parent, { scope: 'mcp:read' });
    await refused(
      () => exchange(h, child, pt, { scope: 'mcp:read files:read' }),
      400,
      'invalid_scope',
      'scope_widened',
      "scope `files:read` exceeds the subject token's scope",
    );
    await refused(
      () => exchange(h, child, pt, { audience: 'https://other.example/mcp' }),
      400,
      'invalid_target',
      'audience_widened',
      "audience `https://other.example/mcp` is not among the subject token's audience",
    );
    await refused(
      () => exchange(h, child, pt, { expires_in: '3000' }),
      400,
      'invalid_request',
      'lifetime_extended',
      /exceeds the subject token's expiry/,
    );
    const ok = await exchange(h, child, pt, { expires_in: '30' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok((decodeJwt(ok.body['access_token'] as string).exp ?? 0) <= (decodeJwt(pt).exp ?? 0));
  });

  test("a child's own envelope bounds the delegated scope", async () => {
    const parent = await h.agent('research/dp2');
    const child = await h.agent('reader/dc2');
    const pt = await getToken(h, parent);
    await refused(
      () => exchange(h, child, pt, { scope: 'files:read' }),
      400,
      'invalid_scope',
      undefined,
      'scope `files:read` is outside the envelope of blueprint `reader`',
    );
    const ok = await exchange(h, child, pt);
    assert.equal(ok.body['scope'], 'mcp:read');
  });

  test('exceeding the maximum depth is refused', async () => {
    const [a, b, c, d] = await Promise.all(['dp3', 'dc3', 'dg3', 'dx3'].map((n) => h.agent(`research/${n}`)));
    const t0 = await getToken(h, a!);
    const t1 = (await exchange(h, b!, t0)).body['access_token'] as string;
    const t2 = (await exchange(h, c!, t1)).body['access_token'] as string;
    assert.ok(t2, 'depth 2 is allowed');
    await refused(
      () => exchange(h, d!, t2),
      400,
      'invalid_grant',
      'depth_exceeded',
      'delegation depth 3 exceeds the maximum 2',
    );
    await refused(() => exchange(h, a!, t1), 400, 'invalid_grant', 'chain_cycle');
  });

  test('an agent not named in may_act cannot take the delegation', async () => {
    const parent = await h.agent('research/dp4');
    const named = await h.agent('research/dn4');
    const stranger = await h.agent('research/ds4');
    const pt = await getToken(h, parent, { may_act: named.id });
    assert.deepEqual(decodeJwt(pt)['may_act'], { sub: named.id });
    await refused(
      () => exchange(h, stranger, pt),
      400,
      'invalid_grant',
      'may_act_mismatch',
      `agent \`${stranger.id}\` is not named in the subject token's may_act`,
    );
    assert.equal((await exchange(h, named, pt)).status, 200);
  });

  test('delegating from a suspended agent is refused', async () => {
    const parent = await h.agent('research/dp5');
    const child = await h.agent('research/dc5');
    const pt = await getToken(h, parent);
    await h.w.registry.suspendAgent(parent.id);
    await refused(
      () => exchange(h, child, pt),
      400,
      'invalid_grant',
      'agent_inactive',
      `subject_token: agent \`${parent.id}\` is suspended`,
    );
  });

  test('a suspended child gets nothing', async () => {
    const parent = await h.agent('research/dp6');
    const child = await h.agent('research/dc6');
    const pt = await getToken(h, parent);
    await h.w.registry.suspendAgent(child.id);
    await refused(
      () => exchange(h, child, pt),
      400,
      'unauthorized_client',
      undefined,
      `agent \`${child.id}\` is suspended`,
    );
    await refused(
      () => tokenRequest(h, child),
      400,
      'unauthorized_client',
      undefined,
      `agent \`${child.id}\` is suspended`,
    );
  });
});

describe('revocation cascades', () => {
  test("a suspended agent's token fails, and stays dead after a resume", async () => {
    const a = await h.agent('research/rv1');
    const t = await getToken(h, a);
    assert.equal((await presentOk(a, t)).status, 200);
    await h.w.registry.suspendAgent(a.id);
    await h.svc.state.refresh();
    const r = await presentOk(a, t);
    assert.equal(r.status, 401);
    assert.equal(r.body['warden_reason'], 'agent_inactive');
    await h.w.registry.resumeAgent(a.id);
    await h.svc.state.refresh();
    assert.equal((await presentOk(a, t)).body['warden_reason'], 'token_revoked');
    await new Promise((r) => setTimeout(r, 1100)); // tokens carry whole-second iat
    const fresh = await getToken(h, a);
    assert.equal((await presentOk(a, fresh)).status, 200);
  });

  test('a token delegated two hops below a suspended agent fails', async () => {
    const [a, b, c] = await Promise.all(['rv2a', 'rv2b', 'rv2c'].map((n) => h.agent(`research/${n}`)));
    const t0 = await getToken(h, a!);
    const t1 = (await exchange(h, b!, t0)).body['access_token'] as string;
    const t2 = (await exchange(h, c!, t1)).body['access_token'] as string;
    assert.equal((await presentOk(c!, t2)).status, 200);
    await h.w.registry.suspendAgent(a!.id);
    await h.svc.state.refresh();
    const r = await presentOk(c!, t2);
    assert.equal(r.status, 401);
    assert.equal(r.body['warden_reason'], 'agent_inactive');
    assert.equal(r.body['error_description'], `agent \`${a!.id}\` is suspended`);
  });

  test('a token issued before its sponsor was disabled fails, even after re-enabling', async () => {
    const a = await h.agent('reader/rv3', SPONSOR);
    const b = await h.agent('research/rv3b', OTHER_SPONSOR);
    const t = await getToken(h, b);
    assert.equal((await presentOk(b, t)).status, 200);
    await h.w.registry.disableSponsor(OTHER_SPONSOR);
    await h.svc.state.refresh();
    const r = await presentOk(b, t);
    assert.equal(r.body['warden_reason'], 'sponsor_inactive');
    await refused(
      () => tokenRequest(h, b),
      400,
      'unauthorized_client',
      undefined,
      `sponsor \`${OTHER_SPONSOR}\` of agent \`${b.id}\` is disabled`,
    );
    await h.w.registry.enableSponsor(OTHER_SPONSOR);
    await h.svc.state.refresh();
    assert.equal((await presentOk(b, t)).body['warden_reason'], 'token_revoked');
    assert.equal((await presentOk(a, await getToken(h, a))).status, 200, 'other sponsors are untouched');
  });

  test('retiring a blueprint kills its tokens', async () => {
    await h.w.registry.createBlueprint({
      name: 'shortlived',
      sponsors: [SPONSOR],
      envelope: { servers: [], tools: [], scopes: ['mcp:read'] },
      baseScope: ['mcp:read'],
    });
    const a = await h.agent('shortlived/rv4');
    const t = await getToken(h, a);
    await h.w.registry.retireBlueprint('shortlived');
    await h.svc.state.refresh();
    assert.equal((await presentOk(a, t)).body['warden_reason'], 'blueprint_inactive');
    await refused(
      () => tokenRequest(h, a),
      400,
      'unauthorized_client',
      undefined,
      'blueprint `shortlived` is retired',
    );
  });

  test('a blueprint past its review-by date can get no tokens', async () => {
    await h.w.registry.createBlueprint({
      name: 'stale',
      sponsors: [SPONSOR],
      envelope: { servers: [], tools: [], scopes: ['mcp:read'] },
      baseScope: ['mcp:read'],
      reviewBy: Date.now() + 86_400_000,
    });
    const a = await h.agent('stale/rv5');
    // Time passes: the review date is now behind us.
    await h.w.store.db
      .updateTable('blueprints')
      .set({ review_by: Date.now() - 1000 })
      .where('name', '=', 'stale')
      .execute();
    await h.w.store.db
      .insertInto('changes')
      .values({ kind: 'blueprint', entity_id: 'stale', at: Date.now() })
      .execute();
    await refused(
      () => tokenRequest(h, a),
      400,
      'unauthorized_client',
      undefined,
      /blueprint `stale` is past its review-by date/,
    );
  });
});

describe('just-in-time grants', () => {
  test('an approved grant adds its scope for its window only, and revoking it kills the token', async () => {
    const a = await h.agent('research/jit1');
    const g = await h.w.registry.requestGrant({
      agent: a.id,
      scope: ['mail:send'],
      durationSeconds: 900,
      reason: 'send the weekly report',
    });
    await refused(
      () => tokenRequest(h, a, { scope: 'mail:send' }),
      400,
      'invalid_scope',
      undefined,
      /not in its base scope or an active grant/,
    );
    await assert.rejects(h.w.registry.approveGrant(g.id, OTHER_SPONSOR), /is not the sponsor of agent/);
    const approved = await h.w.registry.approveGrant(g.id, SPONSOR);
    const r = await tokenRequest(h, a);
    assert.equal(r.body['scope'], 'mcp:read files:read mail:send');
    const t = r.body['access_token'] as string;
    const c = decodeJwt(t);
    assert.deepEqual(c['grants'], [g.id]);
    assert.ok((c.exp ?? 0) * 1000 <= (approved.endsAt ?? 0));
    assert.equal((await presentOk(a, t)).status, 200);
    await h.w.registry.revokeGrant(g.id);
    await h.svc.state.refresh();
    const dead = await presentOk(a, t);
    assert.equal(dead.body['warden_reason'], 'grant_inactive');
    const after = await tokenRequest(h, a);
    assert.equal(after.body['scope'], 'mcp:read files:read');
  });

  test('a grant ends by itself when its window closes', async () => {
    const a = await h.agent('research/jit2');
    const g = await h.w.registry.requestGrant({
      agent: a.id,
      scope: ['files:write'],
      durationSeconds: 2,
      reason: 'one quick fix',
    });
    await h.w.registry.approveGrant(g.id, SPONSOR);
    const r = await tokenRequest(h, a, { scope: 'files:write' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok((r.body['expires_in'] as number) <= 2);
    const t = r.body['access_token'] as string;
    await new Promise((res) => setTimeout(res, 2200));
    assert.equal((await presentOk(a, t)).status, 401);
    await refused(
      () => tokenRequest(h, a, { scope: 'files:write' }),
      400,
      'invalid_scope',
      undefined,
      /not in its base scope or an active grant/,
    );
  });
});

describe('keys and introspection', () => {
  test('rotation: the new key signs, the old key still verifies its tokens', async () => {
    const a = await h.agent('research/kr1');
    const before = await getToken(h, a);
    const kid = await createSigningKey(h.w.store, h.dataDir, h.w.audit);
    await h.svc.state.refresh();
    const afterT = await getToken(h, a);
    assert.equal(JSON.parse(Buffer.from(afterT.split('.')[0] ?? '', 'base64url').toString()).kid, kid);
    assert.equal((await presentOk(a, before)).status, 200);
    assert.equal((await presentOk(a, afterT)).status, 200);
    const jwks = await rawRequest(`${h.issuer}/.well-known/jwks.json`, 'GET', []);
    assert.equal((jwks.body['keys'] as unknown[]).length, 2);
  });

  test('introspection needs the secret and reflects revocation', async () => {
    const a = await h.agent('research/in1');
    const t = await getToken(h, a);
    const secret = readFileSync(join(h.dataDir, 'introspection.secret'), 'utf8').trim();
    const url = `${h.issuer}/oauth/introspect`;
    const denied = await rawRequest(url, 'POST', [['authorization', 'Bearer wrong']], form({ token: t }));
    assert.equal(denied.status, 401);
    assert.equal(denied.body['active'], undefined);
    const ok = await rawRequest(url, 'POST', [['authorization', `Bearer ${secret}`]], form({ token: t }));
    assert.equal(ok.body['active'], true);
    assert.equal(ok.body['sub'], a.id);
    assert.deepEqual(ok.body['cnf'], { jkt: await a.thumbprint() });
    await h.w.registry.suspendAgent(a.id);
    await h.svc.state.refresh();
    const gone = await rawRequest(url, 'POST', [['authorization', `Bearer ${secret}`]], form({ token: t }));
    assert.deepEqual(gone.body, { active: false });
  });
});
