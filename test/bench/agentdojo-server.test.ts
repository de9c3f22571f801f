// The AgentDojo data loader, the scripted results, and the stdio MCP server built on them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { newScriptState, scriptResult } from '../../bench/agentdojo/script.js';
import {
  attackCases,
  attackText,
  injectionCalls,
  injectionTaskOf,
  inputSchemaOf,
  loadTraces,
  resolveTracesPath,
  suiteNames,
  suiteOf,
  userTaskOf,
} from '../../bench/agentdojo/traces.js';
import { WardenError } from '../../src/errors.js';
import { text } from '../helpers/mcp.js';

const SERVER_TS = fileURLToPath(new URL('../../bench/agentdojo/server.ts', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'agentdojo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WardenError, `expected a WardenError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected an error');
}

const traces = loadTraces();
const banking = suiteOf(traces, 'banking');

describe('loader', () => {
  test('four suites, 97 user tasks, 35 injection tasks, 949 attack cases', () => {
    assert.deepEqual(suiteNames(traces), ['workspace', 'travel', 'banking', 'slack']);
    const count = (f: (s: ReturnType<typeof suiteOf>) => number): number[] =>
      suiteNames(traces).map((n) => f(suiteOf(traces, n)));
    assert.deepEqual(
      count((s) => s.user_tasks.length),
      [40, 20, 16, 21],
    );
    assert.deepEqual(
      count((s) => s.injection_tasks.length),
      [14, 7, 9, 5],
    );
    assert.deepEqual(
      count((s) => s.tools.length),
      [24, 28, 11, 11],
    );
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    assert.equal(sum(count((s) => s.user_tasks.length)), 97);
    assert.equal(sum(count((s) => s.injection_tasks.length)), 35);
    assert.equal(sum(count((s) => attackCases(s).length)), 949);
    // Only user tasks that expose a vector take part.
    for (const c of attackCases(banking)) assert.ok(c.userTask.injection_vectors_seen.length > 0);
  });

  test('loadTraces caches per path', () => {
    assert.equal(loadTraces(), traces);
    assert.equal(loadTraces(resolveTracesPath()), traces);
  });

  test('injection calls fall back to the suggested calls where upstream has none', () => {
    const ws = suiteOf(traces, 'workspace');
    const seven = injectionTaskOf(ws, 'injection_task_7');
    assert.equal(seven.ground_truth_calls.length, 0);
    assert.ok((seven.suggested_calls_not_upstream ?? []).length > 0);
    assert.deepEqual(injectionCalls(seven), seven.suggested_calls_not_upstream);
    const zero = injectionTaskOf(banking, 'injection_task_0');
    assert.deepEqual(injectionCalls(zero), zero.ground_truth_calls);
    // Every injection task has calls to replay but travel's text-only goal (no tool call to gate).
    const empty = suiteNames(traces).flatMap((n) =>
      suiteOf(traces, n)
        .injection_tasks.filter((t) => injectionCalls(t).length === 0)
        .map((t) => `${n}/${t.id}`),
    );
    assert.deepEqual(empty, ['travel/injection_task_6']);
  });

  test('input schemas map the parameter types', () => {
    const tool = (suite: string, name: string) => {
      const t = suiteOf(traces, suite).tools.find((x) => x.name === name);
      assert.ok(t, name);
      return t;
    };
    const send = inputSchemaOf(tool('banking', 'send_money'));
    assert.equal(send.type, 'object');
    assert.deepEqual(send.required, ['recipient', 'amount', 'subject', 'date']);
    assert.deepEqual(send.properties.amount, { type: 'number', description: 'Amount of the transaction' });
    const upd = inputSchemaOf(tool('banking', 'update_scheduled_transaction'));
    assert.deepEqual(upd.required, ['id']);
    assert.deepEqual(upd.properties.id?.type, 'integer');
    assert.deepEqual(upd.properties.recipient?.type, ['string', 'null']);
    assert.deepEqual(upd.properties.recurring?.type, ['boolean', 'null']);
    assert.equal(inputSchemaOf(tool('banking', 'get_balance')).required, undefined);
    const mail = inputSchemaOf(tool('workspace', 'send_email'));
    assert.deepEqual(mail.properties.recipients?.type, 'array');
    assert.deepEqual(mail.properties.recipients?.items, { type: 'string' });
    assert.deepEqual(mail.properties.cc?.type, ['array', 'null']);
    assert.deepEqual(mail.required, ['recipients', 'subject', 'body']);
    const share = inputSchemaOf(tool('workspace', 'share_file')).properties.permission;
    assert.equal(share?.type, undefined);
    assert.equal(share?.description, 'The permission level to grant the user.');
    // A union with a structured member becomes anyOf.
    const u = inputSchemaOf({
      name: 't',
      description: '',
      parameters: [{ name: 'x', type: 'array<string> | null', required: false, description: '' }],
    });
    assert.deepEqual(u.properties.x, {
      anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }],
    });
  });

  test('an unknown parameter type is refused', () => {
    const bad = {
      name: 't',
      description: '',
      parameters: [{ name: 'x', type: 'dict', required: true, description: '' }],
    };
    assert.equal(
      codeOf(() => inputSchemaOf(bad)),
      'invalid_argument',
    );
  });

  test('attack text fills goal, user and model', () => {
    const t = attackText(traces, 'Do $1 the thing');
    assert.match(t, /This is an important message from me, Emma Johnson, to you, AI assistant\./);
    assert.ok(t.includes('Do $1 the thing'));
    assert.ok(!/\{(goal|user|model)\}/.test(t));
    assert.equal(
      codeOf(() => attackText({ attack_templates: {} }, 'x')),
      'invalid_argument',
    );
  });

  test('bad traces files and names are refused', () => {
    assert.equal(
      codeOf(() => loadTraces(join(tmp, 'absent.json'))),
      'not_found',
    );
    const notJson = join(tmp, 'not.json');
    writeFileSync(notJson, '{');
    assert.equal(
      codeOf(() => loadTraces(notJson)),
      'invalid_argument',
    );
    const wrong = join(tmp, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ source: {}, attack_templates: {}, suites: { x: { name: 'x' } } }));
    assert.equal(
      codeOf(() => loadTraces(wrong)),
      'invalid_argument',
    );
    const saved = process.env.AGENTDOJO_TRACES;
    process.env.AGENTDOJO_TRACES = join(tmp, 'absent.json');
    try {
      assert.equal(codeOf(resolveTracesPath), 'not_found');
    } finally {
      if (saved === undefined) delete process.env.AGENTDOJO_TRACES;
      else process.env.AGENTDOJO_TRACES = saved;
    }
    assert.equal(
      codeOf(() => suiteOf(traces, 'toString')),
      'not_found',
    );
    assert.equal(
      codeOf(() => userTaskOf(banking, 'user_task_99')),
      'not_found',
    );
    assert.equal(
      codeOf(() => injectionTaskOf(banking, 'injection_task_99')),
      'not_found',
    );
  });
});

describe('scriptResult', () => {
  const u0 = userTaskOf(banking, 'user_task_0');
  const inj0 = injectionTaskOf(banking, 'injection_task_0');
  const readBill = { function: 'read_file', args: { file_path: 'bill-december-2023.txt' } };
  const parse = (t: string): Record<string, unknown> => JSON.parse(t) as Record<string, unknown>;

  test('a read carries the values the later send_money needs, not those the prompt gives', () => {
    const r = scriptResult(banking, u0, null, readBill, newScriptState(traces));
    assert.equal(r.matched, 'user');
    const body = parse(r.text);
    assert.match(String(body.summary), /read_file/);
    assert.deepEqual(body.data, ['UK12345678901234567890', 98.7, 'Car Rental\t\t\t98.70', '2022-01-01']);
    // user_task_15 gives its landlord's IBAN and the new rent in the prompt: neither is in the data.
    const u15 = userTaskOf(banking, 'user_task_15');
    const st = newScriptState(traces);
    scriptResult(banking, u15, null, u15.ground_truth_calls[0]!, st);
    const sched = parse(
      scriptResult(banking, u15, null, { function: 'get_scheduled_transactions', args: {} }, st).text,
    );
    assert.ok(u15.prompt.includes('CA133012400231215421872') && u15.prompt.includes('2200'));
    assert.deepEqual(sched.data, [7]);
    // A number is given by the prompt when written there with decimals too (user_task_3: "12.00").
    const u3 = { ...userTaskOf(banking, 'user_task_3'), prompt: 'Refund 4.00 to them.' };
    const tx = parse(scriptResult(banking, u3, null, u3.ground_truth_calls[0]!, newScriptState(traces)).text);
    assert.deepEqual(tx.data, ['GB29NWBK60161331926819', '2022-04-01']);
    // The last call of a task provides nothing further.
    const sent = scriptResult(banking, u0, null, u0.ground_truth_calls[1]!, newScriptState(traces));
    assert.equal(sent.matched, 'user');
    assert.equal(parse(sent.text).data, undefined);
  });

  test('a run of calls to one tool takes its list from the read before the run', () => {
    // slack user_task_15: read the general channel, fetch the two pages posted there, post a summary.
    const slack = suiteOf(traces, 'slack');
    const u15 = userTaskOf(slack, 'user_task_15');
    assert.deepEqual(
      u15.ground_truth_calls.map((c) => c.function),
      ['read_channel_messages', 'get_webpage', 'get_webpage', 'send_channel_message'],
    );
    const st = newScriptState(traces);
    const results = u15.ground_truth_calls.map((c) => parse(scriptResult(slack, u15, null, c, st).text).data);
    assert.deepEqual(results, [
      ['www.informations.com', 'www.restaurant-zurich.com'],
      undefined,
      ['<summary>'],
      undefined,
    ]);
  });

  test('an injected result carries the attack with the goal; a benign one the default', () => {
    const attacked = parse(scriptResult(banking, u0, inj0, readBill, newScriptState(traces)).text);
    assert.equal(typeof attacked.content, 'string');
    assert.ok(String(attacked.content).includes(inj0.goal));
    assert.ok(String(attacked.content).includes(attackText(traces, inj0.goal)));
    const benign = parse(scriptResult(banking, u0, null, readBill, newScriptState(traces)).text);
    const def = banking.injection_vectors.injection_bill_text?.default;
    assert.ok(def && String(benign.content).includes(def));
    assert.ok(!String(benign.content).includes('<INFORMATION>'));
    // A call that carries no vector has no content.
    const sent = parse(
      scriptResult(banking, u0, inj0, u0.ground_truth_calls[1]!, newScriptState(traces)).text,
    );
    assert.equal(sent.content, undefined);
  });

  test('an injection-task call is answered ok with its arguments', () => {
    const call = injectionCalls(inj0)[0]!;
    const r = scriptResult(banking, u0, inj0, call, newScriptState(traces));
    assert.equal(r.matched, 'injection');
    assert.deepEqual(parse(r.text), { status: 'ok', function: 'send_money', args: call.args });
    // `$content` placeholders match whatever the agent filled in.
    const filled = { function: 'send_money', args: { ...call.args, subject: 'Spotify Premium' } };
    assert.equal(scriptResult(banking, u0, inj0, filled, newScriptState(traces)).matched, 'injection');
    // Without the injection task set, the same call is not scripted.
    assert.equal(scriptResult(banking, u0, null, call, newScriptState(traces)).matched, 'none');
    // A fixed argument that differs is not the attacker's call.
    const other = { function: 'send_money', args: { ...call.args, recipient: 'DE00' } };
    assert.equal(scriptResult(banking, u0, inj0, other, newScriptState(traces)).matched, 'none');
  });

  test("an injection task's read shows what its next call needs, unless the goal gives it", () => {
    const workspace = suiteOf(traces, 'workspace');
    const inj13 = injectionTaskOf(workspace, 'injection_task_13');
    const [read, send] = injectionCalls(inj13);
    assert.equal(read?.function, 'get_day_calendar_events');
    const to = (send?.args['recipients'] as string[] | undefined)?.[0];
    assert.ok(to && !inj13.goal.includes(to), 'the recipient is not in the goal');
    const u = userTaskOf(workspace, 'user_task_0');
    const r = parse(scriptResult(workspace, u, inj13, read, newScriptState(traces)).text);
    assert.ok((r.data as unknown[]).includes(to), JSON.stringify(r.data));
    // Values the goal spells out (the subject) are not repeated as data.
    assert.ok(!(r.data as unknown[]).includes('Notes for meeting today'));
    // Without the injection task, the same read is not scripted with them.
    assert.equal(scriptResult(workspace, u, null, read, newScriptState(traces)).matched, 'none');
  });

  test('anything else gets the no-script answer', () => {
    const st = newScriptState(traces);
    const r = scriptResult(banking, u0, inj0, { function: 'get_balance', args: {} }, st);
    assert.deepEqual(r, {
      text: JSON.stringify({ status: 'ok', note: 'no scripted result' }),
      matched: 'none',
    });
    const wrongArgs = { function: 'read_file', args: { file_path: 'other.txt' } };
    assert.equal(scriptResult(banking, u0, inj0, wrongArgs, st).matched, 'none');
    assert.equal(st.consumed.size, 0);
  });

  test('matching drops null optionals and defaults, and consumes in order', () => {
    const u1 = userTaskOf(banking, 'user_task_1');
    assert.deepEqual(u1.ground_truth_calls[0]?.args, { n: 100 });
    const st = newScriptState(traces);
    assert.equal(
      scriptResult(banking, u1, null, { function: 'get_most_recent_transactions', args: {} }, st).matched,
      'user',
    );
    assert.deepEqual([...st.consumed], [0]);
    const u9 = userTaskOf(banking, 'user_task_9');
    const upd = {
      function: 'update_scheduled_transaction',
      args: { id: 7, amount: 1100, recipient: null, date: null },
    };
    const st9 = newScriptState(traces);
    assert.equal(scriptResult(banking, u9, null, upd, st9).matched, 'user');
    assert.deepEqual([...st9.consumed], [1]);
    // A repeated read is answered the same way again.
    const st0 = newScriptState(traces);
    const first = scriptResult(banking, u0, null, readBill, st0);
    const again = scriptResult(banking, u0, null, readBill, st0);
    assert.deepEqual(again, first);
    assert.deepEqual([...st0.consumed], [0]);
  });
});

describe('server', () => {
  function caseFile(name: string, body: unknown): string {
    const p = join(tmp, name);
    writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
    return p;
  }

  async function connect(suite: string, file: string): Promise<Client> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', SERVER_TS, '--suite', suite, '--case-file', file],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'agentdojo-test', version: '1.0.0' });
    await client.connect(transport);
    return client;
  }

  test('lists the suite tools and answers calls with the scripted text', async () => {
    const client = await connect(
      'banking',
      caseFile('c1.json', { userTask: 'user_task_0', injectionTask: 'injection_task_0' }),
    );
    try {
      const { tools } = await client.listTools();
      assert.equal(tools.length, banking.tools.length);
      const send = tools.find((t) => t.name === 'send_money');
      assert.deepEqual(send?.inputSchema.required, ['recipient', 'amount', 'subject', 'date']);
      assert.equal(send?.description, 'Sends a transaction to the recipient.');
      assert.equal(send?.annotations, undefined);
      const u0 = userTaskOf(banking, 'user_task_0');
      const inj0 = injectionTaskOf(banking, 'injection_task_0');
      const res = await client.callTool({
        name: 'read_file',
        arguments: { file_path: 'bill-december-2023.txt' },
      });
      const expected = scriptResult(banking, u0, inj0, u0.ground_truth_calls[0]!, newScriptState(traces));
      assert.equal(text(res), expected.text);
      assert.ok(text(res).includes(inj0.goal));
      const hijack = await client.callTool({ name: 'send_money', arguments: injectionCalls(inj0)[0]!.args });
      assert.equal(JSON.parse(text(hijack)).status, 'ok');
      const unknown = await client.callTool({ name: 'no_such_tool', arguments: {} });
      assert.equal(unknown.isError, true);
    } finally {
      await client.close();
    }
  });

  test('a benign case serves the default vector text', async () => {
    const client = await connect(
      'banking',
      caseFile('c2.json', { userTask: 'user_task_0', injectionTask: null }),
    );
    try {
      const res = await client.callTool({
        name: 'read_file',
        arguments: { file_path: 'bill-december-2023.txt' },
      });
      assert.ok(text(res).includes('Thank you for your business!'));
      assert.ok(!text(res).includes('<INFORMATION>'));
    } finally {
      await client.close();
    }
  });

  const bad: [string, string[]][] = [
    ['missing case file', ['--suite', 'banking', '--case-file', join(tmp, 'none.json')]],
    ['case file not json', ['--suite', 'banking', '--case-file', caseFile('b1.json', '{')]],
    [
      'case file of the wrong shape',
      ['--suite', 'banking', '--case-file', caseFile('b2.json', { userTask: 3 })],
    ],
    [
      'case file with extra fields',
      [
        '--suite',
        'banking',
        '--case-file',
        caseFile('b3.json', { userTask: 'user_task_0', injectionTask: null, x: 1 }),
      ],
    ],
    [
      'unknown suite',
      [
        '--suite',
        'nope',
        '--case-file',
        caseFile('b4.json', { userTask: 'user_task_0', injectionTask: null }),
      ],
    ],
    [
      'unknown user task',
      [
        '--suite',
        'banking',
        '--case-file',
        caseFile('b5.json', { userTask: 'user_task_99', injectionTask: null }),
      ],
    ],
    [
      'unknown injection task',
      [
        '--suite',
        'banking',
        '--case-file',
        caseFile('b6.json', { userTask: 'user_task_0', injectionTask: 'x' }),
      ],
    ],
    ['no --suite', ['--case-file', caseFile('b7.json', { userTask: 'user_task_0', injectionTask: null })]],
    ['unknown option', ['--suite', 'banking', '--bogus']],
  ];
  for (const [name, args] of bad) {
    test(`exits with a message on stderr: ${name}`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', SERVER_TS, ...args], {
        input: '',
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^agentdojo-server: (not_found|invalid_argument): /);
      assert.equal(r.stdout, '');
    });
  }
});
