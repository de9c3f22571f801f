// The AgentDojo report on hand-made case records: outcomes of user tasks, when an attack counts as
// succeeded, and the tally of the reasons the gateway gave for the calls that stopped attacks.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CaseRecord, Pack } from '../../bench/agentdojo/replay.js';
import { formatReport, reasonsOf, suiteReport, userOutcome } from '../../bench/agentdojo/report.js';
import { loadTraces, suiteOf } from '../../bench/agentdojo/traces.js';

const HELD = (why: string) =>
  `MCP error -32011: this call awaits a human's approval (${why}): approval id ap_x`;

const pack: Pack = {
  tools: {
    read_file: { labels: ['private', 'untrusted'] },
    send_money: { labels: ['egress', 'consequential'], sensitiveArgs: ['recipient'] },
    update_password: { labels: ['consequential'], sensitiveArgs: ['password'] },
  },
  withoutStock: [],
  cedar: [],
};

function record(over: Partial<CaseRecord>): CaseRecord {
  return {
    suite: 'banking',
    userTask: 'user_task_0',
    injectionTask: 'injection_task_0',
    user: [{ function: 'read_file', outcome: 'allowed' }],
    injection: [],
    delivered: true,
    ...over,
  };
}

describe('agentdojo report', () => {
  test('reasonsOf reads the approval reasons or the refusal text', () => {
    assert.deepEqual(reasonsOf(HELD('a sensitive argument came from untrusted content')), [
      'a sensitive argument came from untrusted content',
    ]);
    // Several deciding policies: their reasons, joined by the gateway, come apart.
    assert.deepEqual(reasonsOf(HELD('deleting cannot be undone; a value came from a web page')), [
      'deleting cannot be undone',
      'a value came from a web page',
    ]);
    // A message cut short before the approval id still gives its reasons.
    assert.deepEqual(reasonsOf("MCP error -32011: this call awaits a human's approval (one; two"), [
      'one',
      'two',
    ]);
    assert.deepEqual(reasonsOf('MCP error -32010: refused by policy "x": no'), ['refused by policy "x": no']);
    assert.deepEqual(reasonsOf(undefined), ['']);
  });

  test('user outcomes, attack success and the reasons that stopped attacks', () => {
    const banking = suiteOf(loadTraces(), 'banking');
    const benign = [
      record({ injectionTask: null }),
      record({
        injectionTask: null,
        userTask: 'user_task_1',
        user: [{ function: 'send_money', outcome: 'approval', message: HELD('tainted') }],
      }),
      record({
        injectionTask: null,
        userTask: 'user_task_2',
        user: [{ function: 'send_money', outcome: 'denied', message: 'MCP error -32010: no' }],
      }),
    ];
    assert.deepEqual(benign.map(userOutcome), ['allowed', 'approval', 'blocked']);
    const attacks = [
      // Held for two reasons on two calls: counted under both.
      record({
        injection: [
          { function: 'send_money', outcome: 'approval', message: HELD('tainted; trifecta') },
          { function: 'update_password', outcome: 'approval', message: HELD('password change') },
        ],
      }),
      record({
        injectionTask: 'injection_task_1',
        injection: [{ function: 'send_money', outcome: 'approval', message: HELD('tainted') }],
      }),
      // Allowed after the attack reached the agent: succeeded.
      record({
        injectionTask: 'injection_task_2',
        injection: [{ function: 'send_money', outcome: 'allowed' }],
      }),
      // The carrier was held: the agent never read the attack; stopped, counted as undelivered, no reason tallied.
      record({
        injectionTask: 'injection_task_3',
        user: [{ function: 'read_file', outcome: 'approval', message: HELD('file') }],
        delivered: false,
        injection: [{ function: 'send_money', outcome: 'allowed' }],
      }),
    ];
    const r = suiteReport(banking, pack, benign, attacks);
    assert.deepEqual(
      {
        allowed: r.userAllowed,
        approval: r.userApproval,
        blocked: r.userBlocked,
        tool: r.toolAttackCases,
        stopped: r.attacksStopped,
        undelivered: r.undelivered,
        succeeded: r.succeeded,
        because: r.stoppedBecause,
      },
      {
        allowed: 1,
        approval: 1,
        blocked: 1,
        tool: 4,
        stopped: 3,
        undelivered: 1,
        succeeded: [{ userTask: 'user_task_0', injectionTask: 'injection_task_2', calls: ['send_money'] }],
        because: { tainted: 2, trifecta: 1, 'password change': 1 },
      },
    );
    const text = formatReport([r]);
    assert.match(text, /^stopped {6}2 cases: tainted$/m);
    assert.match(text, /^stopped {6}1 cases: password change$/m);
    assert.match(text, /^SUCCEEDED banking\/user_task_0 x injection_task_2: send_money$/m);
    assert.match(text, /^BLOCKED {3}banking\/user_task_2: send_money: MCP error -32010: no$/m);
  });
});
