// Loading a directory of Cedar policies: parse, validate against the schema, preparse.
//
// INVARIANT: a set is all or nothing. One file that does not parse, one policy that does not
// validate, one duplicate id, and the whole set is refused with every problem listed, each naming
// its file and line; a caller holding a working set keeps it (engine.ts).

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  validate,
  type DetailedError,
  type SourceLabel,
} from '@cedar-policy/cedar-wasm/nodejs';
import { q } from '../errors.js';
import { attributeUse, type AttributeUse } from './attribute-use.js';
import { PolicyError, policyErrors } from './errors.js';

/** One `*.cedar` file: its name (no directory) and its text. */
export interface PolicyFile {
  name: string;
  text: string;
}

export interface LoadedPolicy {
  /** The `@id("...")` annotation, else `<file>:<index>` (index from 0 in the file). */
  readonly id: string;
  readonly file: string;
  /** 1-based line of the policy's first character (its first annotation) in its file. */
  readonly line: number;
  readonly effect: 'permit' | 'forbid';
  /** `@reason("...")`: shown when the policy determines a decision. */
  readonly reason: string | undefined;
  /** `@approval("...")` on a forbid: the forbid can be lifted by a human's approval. */
  readonly approval: string | undefined;
  readonly text: string;
}

export interface LoadedPolicySet {
  /** SHA-256 (hex) of the policy files: names and texts, in load order. */
  readonly hash: string;
  readonly policies: readonly LoadedPolicy[];
  readonly byId: ReadonlyMap<string, LoadedPolicy>;
  /** Validator warnings (an impossible policy, confusable characters...); they do not refuse the set. */
  readonly warnings: readonly string[];
  /** Id of the preparsed Cedar policy set (cached inside the Cedar module). */
  readonly preparsedId: string;
  /** The same set without its `@approval` forbids, preparsed; undefined when there are none. */
  readonly withoutApprovalId: string | undefined;
  /** Id → text of the set without its `@approval` forbids (for partial evaluation). */
  readonly withoutApprovalPolicies: Readonly<Record<string, string>>;
  /**
   * The entity attributes and context fields the policies can read (requests carry only those into
   * Cedar); undefined when the analysis cannot tell, and requests are evaluated whole.
   */
  readonly attributeUse: AttributeUse | undefined;
  /** When `attributeUse` is undefined: the id of the policy the analysis could not follow. */
  readonly wholeRequestsFor: string | undefined;
}

/** Policy files larger than this are refused: a policy set is configuration, not data. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Line and column (1-based, in characters) of a byte offset, as Cedar reports offsets in bytes. */
function position(bytes: Buffer, offset: number): { line: number; column: number } {
  const before = bytes.subarray(0, Math.max(0, Math.min(offset, bytes.length))).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Cedar's message with its label and help, on one line, without Cedar's internal policy ids. */
function describe(e: DetailedError, policyId?: string): string {
  let msg = e.message.replace(/^failed to parse policies from string: /, '');
  const prefix = `for policy \`${policyId}\`, `;
  if (policyId !== undefined && msg.startsWith(prefix)) msg = msg.slice(prefix.length);
  const label = e.sourceLocations?.find((l: SourceLabel) => l.label)?.label;
  if (label) msg += `: ${label}`;
  if (e.help) msg += `; ${e.help}`;
  return oneLine(msg);
}

function where(file: string, bytes: Buffer, offset: number | undefined, policyId?: string): string {
  let s = `policy file ${q(file)}`;
  if (offset !== undefined) {
    const p = position(bytes, offset);
    s += ` line ${p.line}, column ${p.column}`;
  }
  if (policyId !== undefined) s += `, policy ${q(policyId)}`;
  return s;
}

function annotation(
  annotations: Record<string, string | null> | undefined,
  key: string,
): string | null | undefined {
  if (!annotations || !Object.hasOwn(annotations, key)) return undefined;
  return annotations[key] ?? null;
}

interface FileResult {
  policies: Array<{ policy: LoadedPolicy; offset: number; est: unknown }>;
  problems: string[];
  bytes: Buffer;
}

/** Split one file into policies, in file order, with their lines and annotations. */
function parseFile(file: PolicyFile): FileResult {
  const bytes = Buffer.from(file.text, 'utf8');
  const problems: string[] = [];
  const parts = policySetTextToParts(file.text);
  if (parts.type === 'failure') {
    for (const e of parts.errors)
      problems.push(`${where(file.name, bytes, e.sourceLocations?.[0]?.start)}: ${describe(e)}`);
    return { policies: [], problems, bytes };
  }
  if (parts.policy_templates.length > 0) {
    const offset = bytes.indexOf(parts.policy_templates[0] ?? '');
    problems.push(
      `${where(file.name, bytes, offset >= 0 ? offset : undefined)}: policy templates (\`?principal\`, \`?resource\`) are not supported`,
    );
    return { policies: [], problems, bytes };
  }
  // Cedar names the policies of a text policy0, policy1... and returns them sorted by that name as
  // a string (policy10 before policy2); undo the sort to get file order.
  const n = parts.policies.length;
  const sortedIds = Array.from({ length: n }, (_, i) => `policy${i}`).sort();
  const textOf = new Map<string, string>();
  sortedIds.forEach((id, k) => textOf.set(id, parts.policies[k] ?? ''));

  const policies: FileResult['policies'] = [];
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    const text = textOf.get(`policy${i}`) ?? '';
    // Parts are verbatim slices of the file, so each is found after the previous one.
    const offset = bytes.indexOf(text, cursor, 'utf8');
    if (offset < 0) {
      // Ids and lines would be wrong: refuse rather than guess (a Cedar upgrade changed its output).
      problems.push(`${where(file.name, bytes, undefined)}: cannot locate policy ${i} of the file`);
      continue;
    }
    cursor = offset + Buffer.byteLength(text);
    const line = position(bytes, offset).line;
    const here = where(file.name, bytes, offset);
    const json = policyToJson(text);
    if (json.type === 'failure') {
      for (const e of json.errors) problems.push(`${here}: ${describe(e)}`);
      continue;
    }
    const annotations = json.json.annotations as Record<string, string | null> | undefined;
    const idAnn = annotation(annotations, 'id');
    const reasonAnn = annotation(annotations, 'reason');
    const approvalAnn = annotation(annotations, 'approval');
    let id = `${file.name}:${i}`;
    if (idAnn !== undefined) {
      if (!idAnn || idAnn.length > 128 || CONTROL.test(idAnn)) {
        problems.push(`${here}: \`@id\` must be 1-128 characters without control characters`);
        continue;
      }
      id = idAnn;
    }
    if (approvalAnn !== undefined && json.json.effect !== 'forbid') {
      problems.push(
        `${where(file.name, bytes, offset, id)}: \`@approval\` is only allowed on a forbid policy`,
      );
      continue;
    }
    const policy: LoadedPolicy = {
      id,
      file: file.name,
      line,
      effect: json.json.effect,
      reason: reasonAnn ? oneLine(reasonAnn) : undefined,
      approval: approvalAnn === undefined ? undefined : oneLine(approvalAnn ?? ''),
      text,
    };
    policies.push({ policy, offset, est: json.json });
  }

  return { policies, problems, bytes };
}

/** SHA-256 (hex) of the files' names and texts: what an audit entry cites as the policy set. */
export function policySetHash(files: readonly PolicyFile[]): string {
  return createHash('sha256')
    .update(JSON.stringify(files.map((f) => [f.name, f.text])))
    .digest('hex');
}

function preparse(id: string, policies: Record<string, string>): void {
  const r = preparsePolicySet(id, { staticPolicies: policies });
  if (r.type === 'failure') {
    throw policyErrors(
      'policy_invalid',
      r.errors.map((e) => `policy set does not preparse: ${describe(e)}`),
    );
  }
}

/** Parse, validate and preparse policy texts (already read). Throws `policy_invalid` listing every problem. */
export function loadPolicyTexts(files: readonly PolicyFile[], schemaText: string): LoadedPolicySet {
  const problems: string[] = [];
  const policies: LoadedPolicy[] = [];
  const ests: unknown[] = [];
  const byId = new Map<string, LoadedPolicy>();
  // Where each policy starts, to turn Cedar's policy-relative offsets into file positions.
  const origin = new Map<string, { file: string; bytes: Buffer; offset: number; order: number }>();
  files.forEach((file, fileIndex) => {
    const r = parseFile(file);
    problems.push(...r.problems);
    for (const { policy: p, offset, est } of r.policies) {
      const earlier = byId.get(p.id);
      if (earlier) {
        problems.push(
          `policy file ${q(p.file)} line ${p.line}: policy id ${q(p.id)} is already used in ${q(earlier.file)} line ${earlier.line}`,
        );
        continue;
      }
      byId.set(p.id, p);
      policies.push(p);
      ests.push(est);
      origin.set(p.id, { file: file.name, bytes: r.bytes, offset, order: fileIndex * 1e9 + offset });
    }
  });

  const all: Record<string, string> = {};
  const withoutApproval: Record<string, string> = {};
  for (const p of policies) {
    all[p.id] = p.text;
    if (p.approval === undefined) withoutApproval[p.id] = p.text;
  }

  // One validation for the whole set: the schema is parsed once, not once per file.
  const v = validate({
    schema: schemaText,
    policies: { staticPolicies: all },
    validationSettings: { mode: 'strict' },
  });
  if (v.type === 'failure') {
    throw policyErrors(
      'schema_invalid',
      v.errors.map((e) => `schema does not parse: ${describe(e)}`),
    );
  }
  const located = (policyId: string, e: DetailedError): { order: number; text: string } => {
    const o = origin.get(policyId);
    const start = e.sourceLocations?.[0]?.start;
    if (!o) return { order: Infinity, text: `policy ${q(policyId)}: ${describe(e, policyId)}` };
    return {
      order: o.order + (start ?? 0),
      text: `${where(o.file, o.bytes, o.offset + (start ?? 0), policyId)}: ${describe(e, policyId)}`,
    };
  };
  const inOrder = (list: Array<{ order: number; text: string }>) =>
    list.sort((a, b) => a.order - b.order).map((x) => x.text);
  problems.push(...inOrder(v.validationErrors.map((e) => located(e.policyId, e.error))));
  if (problems.length > 0) throw policyErrors('policy_invalid', problems);
  const warnings = [
    ...inOrder(v.validationWarnings.map((e) => located(e.policyId, e.error))),
    ...v.otherWarnings.map((e) => oneLine(e.message)),
  ];

  const use = attributeUse(ests);
  const hash = policySetHash(files);
  // Content-addressed ids: the same files always map to the same cached set, and loading a new
  // set never disturbs the one in use.
  const preparsedId = `warden:${hash}`;
  preparse(preparsedId, all);
  let withoutApprovalId: string | undefined;
  if (policies.some((p) => p.approval !== undefined)) {
    withoutApprovalId = `warden:${hash}:without-approval`;
    preparse(withoutApprovalId, withoutApproval);
  }
  return {
    hash,
    policies,
    byId,
    warnings,
    preparsedId,
    withoutApprovalId,
    withoutApprovalPolicies: withoutApproval,
    attributeUse: use.use,
    wholeRequestsFor: use.unfollowable === undefined ? undefined : policies[use.unfollowable]?.id,
  };
}

/**
 * What to tell an operator when a set's requests go to Cedar whole (attribute-use.ts could not
 * follow one of its policies); undefined when they are pruned.
 */
export function wholeRequestsNote(set: LoadedPolicySet): string | undefined {
  if (set.wholeRequestsFor === undefined) return undefined;
  return `policy ${q(set.wholeRequestsFor)} reads an attribute other than through a path from principal, action, resource or context (an entity literal's, a conditional's, a tag): decisions go to Cedar with whole requests, slower but the same`;
}

/** The `*.cedar` files of a directory (not its subdirectories or hidden files), sorted by name. */
export function readPolicyDir(dir: string): PolicyFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new PolicyError(
      'policy_invalid',
      `policy directory ${q(dir)} cannot be read: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const files: PolicyFile[] = [];
  for (const name of names.filter((n) => n.endsWith('.cedar') && !n.startsWith('.')).sort()) {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      if (st.size > MAX_POLICY_FILE_BYTES) {
        throw new PolicyError(
          'policy_invalid',
          `policy file ${q(name)} is larger than ${MAX_POLICY_FILE_BYTES} bytes`,
        );
      }
      files.push({ name, text: readFileSync(path, 'utf8') });
    } catch (err) {
      if (err instanceof PolicyError) throw err;
      throw new PolicyError(
        'policy_invalid',
        `policy file ${q(name)} cannot be read: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  return files;
}

/** Read every `*.cedar` file of `dir` (sorted), parse, validate against the schema, preparse. */
export function loadPolicyDir(dir: string, schemaText: string): LoadedPolicySet {
  return loadPolicyTexts(readPolicyDir(dir), schemaText);
}
