// `warden bom` as a real process: the whole document, one agent, `--output`, and the refusals
// (an unknown agent, an unwritable output, no data directory) each printing one line and exiting 1.

import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv, type AnySchemaObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { initDataDir, openWarden } from '../../src/cli/context.js';
import { buildProgram } from '../../src/cli/program.js';
import { ToolPins } from '../../src/gateway/pins.js';
import { parseToolDefinition, toolDefinitionHash } from '../../src/gateway/tool-definition.js';
import { generateAgentKey } from '../../src/identity/jwk.js';
import type { CycloneDxBom } from '../../src/skills/bom.js';
import { recordSkill } from '../../src/skills/store.js';
import { runWarden, succeeded, type CliRun } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'warden-bom-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const require = createRequire(import.meta.url);
const SCHEMA_DIR = join(
  dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')),
  'res',
  'schema',
);
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const validate = (() => {
  const load = (f: string) => JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')) as AnySchemaObject;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormatsModule.default(ajv);
  ajv.addFormat('iri-reference', (s: string) => !/[\s<>"{}|\\^`]/u.test(s));
  ajv.addFormat('idn-email', (s: string) => /^[^\s@]+@[^\s@]+$/u.test(s));
  // The BOM schema refers to them by file name, resolved against its own $id; their $ids differ.
  for (const f of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json'])
    ajv.addSchema(load(f), `http://cyclonedx.org/schema/${f}`);
  return ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));
})();

const SPONSOR = 'alice@example.com';
const dataDir = join(root, 'data');
let writer = '';
let reader = '';

before(async () => {
  await initDataDir(dataDir);
  writeFileSync(
    join(dataDir, 'warden.yaml'),
    `
upstreams:
  - name: files
    transport: stdio
    command: [/usr/bin/node, /opt/files/server.js]
  - name: web
    transport: http
    url: https://web.example.com/mcp
`,
  );
  const policies = join(dataDir, 'policies');
  for (const f of readdirSync(policies)) rmSync(join(policies, f));
  writeFileSync(
    join(policies, 'test.cedar'),
    `@id("test/baseline")
permit (principal is Warden::Agent, action in Warden::Action::"tools/call", resource)
unless { resource.server == "warden" };

@id("test/reader-never-writes")
forbid (principal in Warden::Blueprint::"reader", action in Warden::Action::"tools/call", resource == Warden::Tool::"files/write");

@id("test/skills-for-writers")
permit (principal in Warden::Blueprint::"writer", action == Warden::Action::"resources/read", resource)
when { resource.server == "warden" };
`,
  );
  const w = await openWarden(dataDir);
  try {
    const pins = new ToolPins(w.store, w.audit, { autoPin: false });
    for (const [server, name] of [
      ['files', 'read'],
      ['files', 'write'],
      ['web', 'fetch'],
    ] as const) {
      const def = parseToolDefinition(server, { name, inputSchema: { type: 'object' }, description: name });
      await pins.observe(server, def);
      await pins.approve(server, name, toolDefinitionHash(def), 'operator');
    }
    await recordSkill(w.store, w.audit, {
      name: 'notes',
      digest: 'e'.repeat(64),
      files: [{ path: 'SKILL.md', digest: 'f'.repeat(64) }],
      signer: null,
      scan: { highest: null, counts: {}, findings: 0 },
      description: 'take notes',
      source: '/src/notes',
      installedAt: Date.UTC(2026, 0, 1),
      installedBy: 'operator',
    });
    await w.registry.addSponsor({ id: SPONSOR, name: 'Alice' });
    await w.registry.createBlueprint({
      name: 'writer',
      sponsors: [SPONSOR],
      envelope: { servers: ['files', 'warden'], tools: ['files/*'], scopes: ['mcp'] },
    });
    await w.registry.createBlueprint({
      name: 'reader',
      sponsors: [SPONSOR],
      envelope: { servers: ['*'], tools: ['files/*', 'web/*'], scopes: ['mcp'] },
    });
    const create = async (blueprint: string, name: string) =>
      (
        await w.registry.createAgent({
          blueprint,
          name,
          sponsor: SPONSOR,
          publicJwk: generateAgentKey('ES256').publicJwk,
        })
      ).id;
    writer = await create('writer', 'w1');
    reader = await create('reader', 'r1');
  } finally {
    await w.close();
  }
});

function warden(args: string[]): Promise<CliRun> {
  return runWarden([...args, '--data-dir', dataDir], root);
}

function parse(text: string): CycloneDxBom {
  const bom = JSON.parse(text) as CycloneDxBom;
  assert.ok(validate(bom), `not valid CycloneDX 1.6: ${JSON.stringify(validate.errors?.slice(0, 5))}`);
  return bom;
}

function deps(bom: CycloneDxBom): Record<string, string[]> {
  const agents = new Set(bom.components.filter((c) => c.type === 'application').map((c) => c['bom-ref']));
  return Object.fromEntries(
    bom.dependencies.filter((d) => agents.has(d.ref)).map((d) => [d.ref, d.dependsOn]),
  );
}

async function refused(args: string[], line: string): Promise<void> {
  const r = await warden(args);
  assert.equal(r.code, 1, `exit code, stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `${line}\n`);
}

describe('warden bom', { concurrency: true }, () => {
  it('describes itself and its options', () => {
    const cmd = buildProgram().commands.find((c) => c.name() === 'bom');
    assert.ok(cmd && cmd.description().length > 0);
    assert.deepEqual(cmd.options.map((o) => o.long).sort(), ['--agent', '--data-dir', '--output']);
    for (const o of cmd.options) assert.ok(o.description.length > 0, `${o.flags} has no description`);
  });

  it('prints a valid CycloneDX 1.6 document with what each agent may use', async () => {
    const bom = parse(succeeded(await warden(['bom'])).stdout);
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.deepEqual(bom.metadata.tools.components, [
      { type: 'application', name: 'warden', version: PACKAGE_VERSION },
    ]);
    assert.deepEqual(deps(bom), {
      [`agent:${reader}`]: ['tool:files/read', 'tool:web/fetch'],
      [`agent:${writer}`]: ['skill:notes', 'tool:files/read', 'tool:files/write'],
    });
  });

  it('--agent: only that agent, by id or shorthand', async () => {
    for (const ref of [writer, 'writer/w1']) {
      const bom = parse(succeeded(await warden(['bom', '--agent', ref])).stdout);
      assert.deepEqual(deps(bom), {
        [`agent:${writer}`]: ['skill:notes', 'tool:files/read', 'tool:files/write'],
      });
    }
  });

  it('--output writes the file and says where', async () => {
    const file = join(mkdtempSync(join(root, 'out-')), 'bom.json');
    const r = succeeded(await warden(['bom', '--output', file]));
    assert.equal(r.stdout, `wrote ${file}\n`);
    const bom = parse(readFileSync(file, 'utf8'));
    assert.equal(Object.keys(deps(bom)).length, 2);
  });

  it('refuses an unknown agent, exit 1, one line', async () => {
    await refused(
      ['bom', '--agent', 'reader/nobody'],
      'warden: agent `spiffe://warden.local/agent/reader/nobody` not found',
    );
    await refused(
      ['bom', '--agent', 'nobody'],
      'warden: invalid agent id `nobody`: expected spiffe://warden.local/agent/<blueprint>/<name> or <blueprint>/<name>',
    );
  });

  it('refuses an output it cannot write, writing nothing', async () => {
    const file = join(root, 'no-such-dir', 'bom.json');
    await refused(['bom', '--output', file], `warden: cannot write \`${file}\`: ENOENT`);
    assert.equal(existsSync(file), false);
  });

  it('refuses a directory that is not a data directory', async () => {
    const empty = mkdtempSync(join(root, 'empty-'));
    const r = await runWarden(['bom', '--data-dir', empty], root);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `warden: \`${empty}\` is not a Warden data directory: run \`warden init\` first\n`,
    );
  });
});
