// The scripted AgentDojo environment as a stdio MCP server: one suite's tools, answering each call as
// `scriptResult` says for one case (a user task, with or without an injection task).
//
//   node dist/bench/agentdojo/server.js --suite <name> --case-file <path>
//
// The case file, `{ "userTask": "user_task_3", "injectionTask": "injection_task_1" | null }`, is read
// once at startup; each session of the gateway starts its own server. stdout carries only MCP.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { WardenError, q } from '../../src/errors.js';
import { newScriptState, scriptResult } from './script.js';
import type { InjectionTask, Suite, UserTask } from './traces.js';
import { injectionTaskOf, inputSchemaOf, loadTraces, suiteOf, userTaskOf } from './traces.js';

const CaseSchema = z
  .object({ userTask: z.string().min(1), injectionTask: z.string().min(1).nullable() })
  .strict();

interface Setup {
  suite: Suite;
  userTask: UserTask;
  injectionTask: InjectionTask | null;
}

function setup(argv: string[]): Setup {
  let values: { suite?: string; 'case-file'?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { suite: { type: 'string' }, 'case-file': { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    throw new WardenError('invalid_argument', (err as Error).message.toLowerCase());
  }
  if (values.suite === undefined) throw new WardenError('invalid_argument', 'missing --suite <name>');
  const caseFile = values['case-file'];
  if (caseFile === undefined) throw new WardenError('invalid_argument', 'missing --case-file <path>');
  let raw: string;
  try {
    raw = readFileSync(caseFile, 'utf8');
  } catch (err) {
    throw new WardenError('not_found', `cannot read case file ${q(caseFile)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new WardenError('invalid_argument', `case file ${q(caseFile)} is not json`);
  }
  const parsed = CaseSchema.safeParse(json);
  if (!parsed.success) {
    throw new WardenError(
      'invalid_argument',
      `case file ${q(caseFile)} must be {"userTask": string, "injectionTask": string | null}`,
    );
  }
  const traces = loadTraces();
  const suite = suiteOf(traces, values.suite);
  const userTask = userTaskOf(suite, parsed.data.userTask);
  const injectionTask =
    parsed.data.injectionTask === null ? null : injectionTaskOf(suite, parsed.data.injectionTask);
  return { suite, userTask, injectionTask };
}

function serve({ suite, userTask, injectionTask }: Setup): Server {
  const traces = loadTraces();
  const state = newScriptState(traces);
  const tools = suite.tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: inputSchemaOf(t),
  }));
  const names = new Set(suite.tools.map((t) => t.name));
  const server = new Server(
    { name: `agentdojo-${suite.name}`, version: '1.2.1' },
    { capabilities: { tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, (req) => {
    const name = req.params.name;
    if (!names.has(name)) {
      return { content: [{ type: 'text', text: `unknown tool ${q(name)}` }], isError: true };
    }
    const args = req.params.arguments ?? {};
    const { text } = scriptResult(suite, userTask, injectionTask, { function: name, args }, state);
    return { content: [{ type: 'text', text }] };
  });
  return server;
}

let ready: Setup;
try {
  ready = setup(process.argv.slice(2));
} catch (err) {
  const code = err instanceof WardenError ? err.code : 'internal';
  process.stderr.write(`agentdojo-server: ${code}: ${(err as Error).message}\n`);
  process.exit(2);
}
await serve(ready).connect(new StdioServerTransport());
