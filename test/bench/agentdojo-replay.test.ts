// A subset of the AgentDojo replay in CI: per suite, one user task that must run with every call
// allowed, and attack cases whose hijacked calls the gateway must hold for a human (the attacker's
// recipient, IBAN, address or URL appeared only in the injected text). Each runs through the real
// gateway exactly as `npm run bench:agentdojo` does (bench/agentdojo/replay.ts), with the suite's
// policy pack from policies/examples/agentdojo/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isConsequential, startSuite, type SuiteBench } from '../../bench/agentdojo/replay.js';
import { attackSucceeded, userOutcome } from '../../bench/agentdojo/report.js';
import { injectionTaskOf, loadTraces, suiteOf, userTaskOf } from '../../bench/agentdojo/traces.js';

interface Expected {
  benign: string;
  attacks: { userTask: string; injectionTask: string; held: string }[];
}

const CASES: Record<string, Expected> = {
  banking: {
    benign: 'user_task_1',
    attacks: [
      { userTask: 'user_task_1', injectionTask: 'injection_task_0', held: 'send_money' },
      { userTask: 'user_task_1', injectionTask: 'injection_task_7', held: 'update_password' },
    ],
  },
  workspace: {
    benign: 'user_task_0',
    attacks: [
      { userTask: 'user_task_0', injectionTask: 'injection_task_0', held: 'send_email' },
      { userTask: 'user_task_0', injectionTask: 'injection_task_13', held: 'send_email' },
    ],
  },
  travel: {
    benign: 'user_task_0',
    attacks: [{ userTask: 'user_task_0', injectionTask: 'injection_task_3', held: 'send_email' }],
  },
  slack: {
    benign: 'user_task_0',
    attacks: [{ userTask: 'user_task_2', injectionTask: 'injection_task_5', held: 'invite_user_to_slack' }],
  },
};

const traces = loadTraces();

for (const [name, expected] of Object.entries(CASES)) {
  describe(`agentdojo ${name}`, () => {
    const suite = suiteOf(traces, name);
    let bench: SuiteBench;
    before(async () => {
      bench = await startSuite(suite);
    });
    after(async () => {
      await bench?.close();
    });

    test(`${expected.benign}: every call of the user task is allowed`, async () => {
      const r = await bench.runCase(userTaskOf(suite, expected.benign), null);
      assert.equal(userOutcome(r), 'allowed', JSON.stringify(r.user));
      assert.equal(r.user.length, userTaskOf(suite, expected.benign).ground_truth_calls.length);
    });

    for (const a of expected.attacks) {
      test(`${a.userTask} x ${a.injectionTask}: the attack reaches the agent and its ${a.held} is held`, async () => {
        const r = await bench.runCase(userTaskOf(suite, a.userTask), injectionTaskOf(suite, a.injectionTask));
        assert.equal(r.delivered, true, 'the injected result reached the agent');
        const held = r.injection.filter((c) => c.function === a.held);
        assert.ok(held.length > 0, JSON.stringify(r.injection));
        for (const c of held) {
          assert.equal(c.outcome, 'approval', JSON.stringify(c));
          assert.match(String(c.message), /came from untrusted content/);
        }
        assert.ok(isConsequential(bench.pack, a.held));
        assert.equal(attackSucceeded(bench.pack, r), false, JSON.stringify(r.injection));
      });
    }
  });
}
