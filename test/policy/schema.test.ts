// The Cedar schema and the per-tool argument types: known answers for the JSON Schema mapping,
// the conversion of actual arguments, and names that try to break out of their string literal.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkParseSchema, schemaToJson } from '@cedar-policy/cedar-wasm/nodejs';
import {
  BASE_SCHEMA,
  PolicyError,
  argTypeToCedar,
  argumentType,
  argumentsToCedar,
  buildSchema,
  compileSchema,
  toolActionId,
} from '../../src/policy/index.js';
import { SEND_EMAIL_SCHEMA } from './helpers.js';

function actionsOf(schemaText: string): string[] {
  const r = schemaToJson(schemaText);
  assert.equal(r.type, 'success', JSON.stringify(r));
  if (r.type !== 'success') return [];
  return Object.keys(r.json['Warden']?.actions ?? {}).sort();
}

function refused(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PolicyError, `not a PolicyError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

describe('base schema', () => {
  it('parses, and is what buildSchema gives for no tools', () => {
    assert.deepEqual(checkParseSchema(BASE_SCHEMA), { type: 'success' });
    assert.equal(buildSchema([]), BASE_SCHEMA);
  });

  it('declares the entity types and the seven actions', () => {
    const r = schemaToJson(BASE_SCHEMA);
    assert.equal(r.type, 'success');
    if (r.type !== 'success') return;
    const ns = r.json['Warden'];
    assert.ok(ns);
    assert.deepEqual(Object.keys(ns.entityTypes).sort(), [
      'Agent',
      'Blueprint',
      'Host',
      'Prompt',
      'Resource',
      'Server',
      'Sponsor',
      'Tool',
    ]);
    assert.deepEqual(Object.keys(ns.actions).sort(), [
      'connect',
      'elicitation/create',
      'prompts/get',
      'resources/read',
      'roots/list',
      'sampling/createMessage',
      'tools/call',
    ]);
    const sampling = ns.actions['sampling/createMessage']?.appliesTo;
    assert.deepEqual(sampling?.principalTypes, ['Server']);
    assert.deepEqual(sampling?.resourceTypes, ['Agent']);
  });
});

describe('per-tool actions', () => {
  it('types context.arguments from a real input schema (known answer)', () => {
    const text = buildSchema([{ server: 'mail', name: 'send_email', inputSchema: SEND_EMAIL_SCHEMA }]);
    assert.ok(
      text.includes(
        '  action "call:mail/send_email" in ["tools/call"]\n' +
          '    appliesTo { principal: [Agent], resource: [Tool], context: { arguments: ' +
          '{ "body": String, "cc"?: Set<String>, "priority"?: Long, "reply_to"?: String, "subject": String, "to": String, "urgent"?: Bool }, ' +
          'flow: Flow, grant: Grant, delegation_depth: Long, time: Time } };',
      ),
      text,
    );
    assert.deepEqual(checkParseSchema(text), { type: 'success' });
    const r = schemaToJson(text);
    assert.equal(r.type, 'success');
    if (r.type !== 'success') return;
    const action = r.json['Warden']?.actions['call:mail/send_email'];
    assert.deepEqual(action?.memberOf, [{ id: 'tools/call' }]);
  });

  it('toolActionId is call:<server>/<tool>', () => {
    assert.equal(toolActionId('mail', 'send_email'), 'call:mail/send_email');
  });

  it('escapes a tool name that tries to declare an action of its own', () => {
    const evil = 'x" in ["tools/call"] appliesTo { principal: [Agent], resource: [Tool] }; action "evil';
    const text = buildSchema([{ server: 'mail', name: evil, inputSchema: {} }]);
    const actions = actionsOf(text);
    assert.equal(actions.length, 8);
    assert.ok(actions.includes(`call:mail/${evil}`));
    assert.ok(!actions.includes('evil'));
  });

  it('keeps backslashes, quotes and non-ASCII in names exactly', () => {
    const name = 'a\\b"c é 🙂';
    assert.ok(
      actionsOf(buildSchema([{ server: 'srv', name, inputSchema: {} }])).includes(`call:srv/${name}`),
    );
  });

  it('refuses a server name with a slash, a control character in a tool name, and a tool listed twice', () => {
    refused(
      () => buildSchema([{ server: 'a/b', name: 't', inputSchema: {} }]),
      'schema_invalid',
      'server name `a/b` is not usable in a policy: 1-64 characters of letters, digits, _ . -',
    );
    refused(
      () => buildSchema([{ server: 'a', name: 't\nx', inputSchema: {} }]),
      'schema_invalid',
      'tool name `t\\u000ax` of server `a` is not usable in a policy: 1-128 characters, no control characters',
    );
    refused(
      () =>
        buildSchema([
          { server: 'a', name: 't', inputSchema: {} },
          { server: 'a', name: 't', inputSchema: {} },
        ]),
      'schema_invalid',
      'tool `a/t` is listed twice',
    );
  });

  it('gives a tool whose input schema is not an object an empty arguments record', () => {
    const model = compileSchema([{ server: 'a', name: 't', inputSchema: 'nonsense' }]);
    assert.deepEqual(model.actions.get('call:a/t')?.tool?.args, { kind: 'Record', attrs: [] });
    assert.ok(model.text.includes('context: { arguments: {}, flow: Flow'));
  });
});

describe('argument types (JSON Schema → Cedar)', () => {
  const cedar = (schema: unknown) => argTypeToCedar(argumentType(schema));

  it('maps scalars, string arrays, nested objects, enums and nullable types', () => {
    assert.equal(
      cedar({
        type: 'object',
        properties: {
          s: { type: 'string' },
          i: { type: 'integer' },
          b: { type: 'boolean' },
          tags: { type: 'array', items: { type: 'string' } },
          ids: { type: 'array', items: { type: 'integer' } },
          mode: { enum: ['fast', 'slow'] },
          level: { const: 3 },
          maybe: { type: ['integer', 'null'] },
          addr: {
            type: 'object',
            properties: { city: { type: 'string' }, zip: { type: 'string' } },
            required: ['city'],
          },
          people: {
            type: 'array',
            items: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
          },
        },
        required: ['s', 'maybe', 'addr'],
      }),
      '{ "addr": { "city": String, "zip"?: String }, "b"?: Bool, "i"?: Long, "ids"?: Set<Long>, "level"?: Long, ' +
        '"maybe"?: Long, "mode"?: String, "people"?: Set<{ "name": String }>, "s": String, "tags"?: Set<String> }',
    );
  });

  it('leaves out numbers, mixed and tuple arrays, free-form objects, unions and escape-like names', () => {
    assert.equal(
      cedar({
        type: 'object',
        properties: {
          n: { type: 'number' },
          mixed: { type: 'array', items: { type: ['string', 'integer'] } },
          tuple: { type: 'array', items: [{ type: 'string' }] },
          noitems: { type: 'array' },
          free: { type: 'object', additionalProperties: true },
          anyof: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
          ref: { $ref: '#/$defs/x' },
          __entity: { type: 'string' },
          // As JSON.parse makes it: an own property, not the prototype.
          ...(JSON.parse('{"__proto__": { "type": "string" }}') as object),
          mixedEnum: { enum: ['a', 1] },
          kept: { type: 'string' },
        },
        required: ['n', 'free', 'kept'],
      }),
      '{ "kept": String }',
    );
  });

  it('leaves out records nested deeper than the limit', () => {
    let schema: Record<string, unknown> = { type: 'object', properties: { leaf: { type: 'string' } } };
    for (let i = 0; i < 8; i++) schema = { type: 'object', properties: { d: schema } };
    assert.equal(cedar(schema), '{ "d"?: { "d"?: { "d"?: { "d"?: { "d"?: {} } } } } }');
  });

  it('is the same whatever the order of the properties', () => {
    assert.equal(
      cedar({ type: 'object', properties: { b: { type: 'string' }, a: { type: 'string' } } }),
      cedar({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } }),
    );
  });
});

describe('argumentsToCedar', () => {
  it('converts the typed parts and drops the untyped ones', () => {
    assert.deepEqual(
      argumentsToCedar(SEND_EMAIL_SCHEMA, {
        to: 'bob@example.com',
        cc: ['a@example.com', 'b@example.com'],
        subject: 'hi',
        body: 'hello',
        priority: 2,
        score: 0.5,
        attachments: [{ name: 'x.pdf' }],
        headers: { 'X-A': '1' },
        reply_to: null,
        unknown_extra: { __entity: { type: 'Warden::Agent', id: 'root' } },
      }),
      {
        to: 'bob@example.com',
        cc: ['a@example.com', 'b@example.com'],
        subject: 'hi',
        body: 'hello',
        priority: 2,
      },
    );
  });

  it('treats absent arguments as an empty object', () => {
    assert.deepEqual(
      argumentsToCedar({ type: 'object', properties: { a: { type: 'string' } } }, undefined),
      {},
    );
  });

  it('refuses values that do not match their type, with the argument named', () => {
    const base = { to: 'bob@example.com', subject: 's', body: 'b' };
    refused(
      () => argumentsToCedar(SEND_EMAIL_SCHEMA, { ...base, to: ['x'] }),
      'arguments_invalid',
      'argument `to` must be a string',
    );
    refused(
      () => argumentsToCedar(SEND_EMAIL_SCHEMA, { ...base, priority: 1.5 }),
      'arguments_invalid',
      'argument `priority` must be an integer',
    );
    refused(
      () => argumentsToCedar(SEND_EMAIL_SCHEMA, { ...base, cc: ['a', 3] }),
      'arguments_invalid',
      'argument `cc[1]` must be a string',
    );
    refused(
      () => argumentsToCedar(SEND_EMAIL_SCHEMA, { to: 'x', subject: 's' }),
      'arguments_invalid',
      'argument `body` is required',
    );
    refused(
      () => argumentsToCedar(SEND_EMAIL_SCHEMA, { ...base, urgent: null }),
      'arguments_invalid',
      'argument `urgent` must be a boolean',
    );
    refused(
      () => argumentsToCedar(SEND_EMAIL_SCHEMA, ['x']),
      'arguments_invalid',
      'arguments must be an object',
    );
    refused(
      () =>
        argumentsToCedar(
          {
            type: 'object',
            properties: { a: { type: 'object', properties: { b: { type: 'integer' } }, required: ['b'] } },
          },
          { a: {} },
        ),
      'arguments_invalid',
      'argument `a.b` is required',
    );
  });
});
