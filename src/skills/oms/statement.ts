// The in-toto Statement v1 carrying the OMS predicate: parse (strict where the OMS schemas are,
// relaxed only for the documented legacy forms) and build.

import { z } from 'zod';
import { WardenError, q } from '../../errors.js';
import { comparePaths, rootDigestOf, type Resource, type SerializationMethod } from './serialize.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const OMS_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';

const Hex = z.string().regex(/^[0-9a-f]+$/, 'not lowercase hex');

const ResourceSchema = z.looseObject({
  name: z.string().min(1),
  digest: Hex,
  algorithm: z.string().min(1),
});

const SerializationSchema = z.strictObject({
  method: z.enum(['files', 'shards']),
  hash_type: z.string(),
  allow_symlinks: z.boolean(),
  // Older Python wrote floats (`8.0`); JSON.parse gives the integer either way.
  shard_size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  // Absent in bundles from before v1.1.0.
  ignore_paths: z.array(z.string().min(1)).optional(),
});

const PredicateSchema = z.strictObject({
  resources: z.array(ResourceSchema),
  serialization: SerializationSchema,
});

const StatementSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z
    .array(
      z.looseObject({
        name: z.string().min(1),
        digest: z.record(z.string(), Hex),
      }),
    )
    .length(1),
  predicateType: z.string(),
  predicate: z.unknown(),
});

export type OmsSerialization = z.infer<typeof SerializationSchema>;

/** A parsed OMS statement whose listed resources agree with its subject digest. */
export interface OmsStatement {
  subjectName: string;
  /** Lowercase hex SHA-256 root digest. */
  rootDigest: string;
  resources: Resource[];
  method: SerializationMethod;
  allowSymlinks: boolean;
  /** As recorded by the signer (absent in legacy bundles). */
  ignorePaths: string[] | undefined;
}

function invalid(what: string, issues: z.core.$ZodIssue[]): WardenError {
  const i = issues[0];
  const where = i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid';
  return new WardenError('bundle_invalid', `${what}: ${where}`);
}

/** Parse the DSSE payload bytes as an OMS statement; every failure is `bundle_invalid`. */
export function parseStatement(payload: Buffer): OmsStatement {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new WardenError('bundle_invalid', 'the signed payload is not JSON');
  }
  const s = StatementSchema.safeParse(json);
  if (!s.success) throw invalid('the signed statement is not an in-toto statement v1', s.error.issues);
  if (s.data.predicateType !== OMS_PREDICATE_TYPE) {
    throw new WardenError(
      'bundle_invalid',
      `predicate type ${q(s.data.predicateType)} is not the model signing predicate ${q(OMS_PREDICATE_TYPE)}`,
    );
  }
  const p = PredicateSchema.safeParse(s.data.predicate);
  if (!p.success) throw invalid('the model signing predicate is malformed', p.error.issues);
  const { resources, serialization: ser } = p.data;
  if (resources.length === 0) throw new WardenError('bundle_invalid', 'the signature lists no resources');
  if (ser.hash_type !== 'sha256') {
    throw new WardenError('bundle_invalid', `hash type ${q(ser.hash_type)} is not supported (only sha256)`);
  }
  let method: SerializationMethod;
  if (ser.method === 'shards') {
    if (ser.shard_size === undefined)
      throw new WardenError('bundle_invalid', 'shard serialization without shard_size');
    method = { kind: 'shards', shardSize: ser.shard_size };
  } else {
    if (ser.shard_size !== undefined)
      throw new WardenError('bundle_invalid', 'files serialization with a shard_size');
    method = { kind: 'files' };
  }
  const algorithms = method.kind === 'files' ? ['sha256'] : ['sha256', `sha256-sharded-${method.shardSize}`];
  const seen = new Set<string>();
  const out: Resource[] = [];
  for (const r of resources) {
    if (!algorithms.includes(r.algorithm)) {
      throw new WardenError(
        'bundle_invalid',
        `resource ${q(r.name)} has unsupported algorithm ${q(r.algorithm)}`,
      );
    }
    if (r.digest.length !== 64) {
      throw new WardenError('bundle_invalid', `resource ${q(r.name)} has a digest that is not sha256`);
    }
    if (seen.has(r.name)) throw new WardenError('bundle_invalid', `resource ${q(r.name)} is listed twice`);
    seen.add(r.name);
    out.push({ name: r.name, algorithm: r.algorithm, digest: r.digest });
  }
  const subject = s.data.subject[0];
  const rootDigest = subject?.digest['sha256'];
  if (subject === undefined || rootDigest === undefined || rootDigest.length !== 64) {
    throw new WardenError('bundle_invalid', 'the statement subject has no sha256 digest');
  }
  // INVARIANT: the subject digest is the hash of the resource list exactly as listed.
  if (rootDigestOf(out) !== rootDigest) {
    throw new WardenError('bundle_invalid', 'the subject digest does not match the listed resources');
  }
  return {
    subjectName: subject.name,
    rootDigest,
    resources: out,
    method,
    allowSymlinks: ser.allow_symlinks,
    ignorePaths: ser.ignore_paths,
  };
}

/** The statement for a freshly hashed model; ignore paths are recorded sorted. */
export function buildStatement(input: {
  subjectName: string;
  rootDigest: string;
  resources: readonly Resource[];
  method: SerializationMethod;
  allowSymlinks: boolean;
  ignorePaths: readonly string[];
}): Record<string, unknown> {
  const serialization: Record<string, unknown> = {
    method: input.method.kind,
    hash_type: 'sha256',
    allow_symlinks: input.allowSymlinks,
    ...(input.method.kind === 'shards' ? { shard_size: input.method.shardSize } : {}),
    ignore_paths: [...new Set(input.ignorePaths)].sort(comparePaths),
  };
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: input.subjectName, digest: { sha256: input.rootDigest } }],
    predicateType: OMS_PREDICATE_TYPE,
    predicate: {
      resources: input.resources.map((r) => ({ name: r.name, algorithm: r.algorithm, digest: r.digest })),
      serialization,
    },
  };
}
