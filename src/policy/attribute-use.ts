// Which attributes of a request a policy set can read, so that a request carries only those into
// Cedar.
//
// Cedar converts every entity attribute and every context field it is given, on every call, read or
// not: with the stock pack that conversion is about half of an evaluation. The policies are known at
// load, so the attributes they can reach are too: an attribute is reachable only through `.` or
// `has` on an expression, and when that expression is a chain of attribute accesses from `principal`,
// `action`, `resource` or `context`, the path is known statically. A request pruned to the paths the
// set names evaluates exactly as the full request: no policy reads what was dropped.
//
// INVARIANT: pruning never changes a decision. A policy that errors counts as absent, so a forbid
// that reached a dropped attribute would silently stop applying. Whatever the analysis cannot follow
// therefore disables pruning for the whole set: an attribute access on anything but such a chain (an
// entity literal, an if-then-else, a set element), template slots, entity tags, an expression form
// this module does not know. A context field used as a whole value (compared, put in a set, handed
// to a function) is kept whole. An entity used as a whole value is its uid: entities compare by uid
// and `in` follows parents, which are always kept.

import type { CedarValueJson, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';

/** The paths under one root that policies read: `whole` keeps the value entire. */
export interface AttributeNode {
  whole: boolean;
  readonly attrs: Map<string, AttributeNode>;
}

/** What a policy set reads, per root; undefined means "cannot tell: send everything". */
export interface AttributeUse {
  readonly principal: AttributeNode;
  readonly action: AttributeNode;
  readonly resource: AttributeNode;
  readonly context: AttributeNode;
  /** The entities whose parents some `in` can follow (an entity's own `in` test, or the scope's). */
  readonly parents: Set<EntityRoot>;
}

const ROOTS = ['principal', 'action', 'resource', 'context'] as const;
type Root = (typeof ROOTS)[number];
const ENTITY_ROOTS = ['principal', 'action', 'resource'] as const;
type EntityRoot = (typeof ENTITY_ROOTS)[number];

// Expression forms of Cedar's JSON policy format whose operands are `left` and `right`.
const BINARY = new Set([
  '==',
  '!=',
  'in',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  'contains',
  'containsAll',
  'containsAny',
]);
const UNARY = new Set(['!', 'neg', 'isEmpty']);

class Unfollowable extends Error {}

function node(): AttributeNode {
  return { whole: false, attrs: new Map() };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The attribute path of `e` when it is a chain of `.` from a variable: ['context', 'flow', 'x']. */
function pathOf(e: unknown): string[] | undefined {
  const attrs: string[] = [];
  let cur = e;
  for (;;) {
    if (!isRecord(cur)) return undefined;
    const keys = Object.keys(cur);
    if (keys.length !== 1) return undefined;
    const dot = cur['.'];
    if (isRecord(dot) && typeof dot['attr'] === 'string') {
      attrs.unshift(dot['attr']);
      cur = dot['left'];
      continue;
    }
    const v = cur['Var'];
    if (typeof v === 'string' && (ROOTS as readonly string[]).includes(v)) return [v, ...attrs];
    return undefined;
  }
}

class Collector {
  readonly use: AttributeUse = {
    principal: node(),
    action: node(),
    resource: node(),
    context: node(),
    parents: new Set(),
  };

  /** `left in ...`: the ancestors of `left` are read; of every entity when `left` is not a root. */
  private ancestorsOf(left: unknown): void {
    const v = isRecord(left) ? left['Var'] : undefined;
    if (v === 'principal' || v === 'action' || v === 'resource') this.use.parents.add(v);
    else for (const r of ENTITY_ROOTS) this.use.parents.add(r);
  }

  private at(path: readonly string[]): AttributeNode {
    let n = this.use[path[0] as Root];
    for (const a of path.slice(1)) {
      let next = n.attrs.get(a);
      if (!next) {
        next = node();
        n.attrs.set(a, next);
      }
      n = next;
    }
    return n;
  }

  expr(e: unknown): void {
    if (!isRecord(e)) throw new Unfollowable();
    const keys = Object.keys(e);
    if (keys.length !== 1) throw new Unfollowable();
    const op = keys[0] as string;
    const body = e[op];
    if (op === 'Value' || op === 'Unknown') return;
    if (op === 'Var') {
      if (typeof body !== 'string' || !(ROOTS as readonly string[]).includes(body)) throw new Unfollowable();
      // An entity used whole is its uid; the context used whole is every field of it.
      this.at([body]).whole = true;
      return;
    }
    if (op === '.') {
      const path = pathOf(e);
      if (!path) throw new Unfollowable();
      this.at(path).whole = true;
      return;
    }
    if (op === 'has') {
      if (!isRecord(body) || typeof body['attr'] !== 'string') throw new Unfollowable();
      const path = pathOf(body['left']);
      if (!path) throw new Unfollowable();
      this.at([...path, body['attr']]);
      return;
    }
    if (op === 'Set') {
      if (!Array.isArray(body)) throw new Unfollowable();
      for (const x of body as unknown[]) this.expr(x);
      return;
    }
    if (op === 'Record') {
      if (!isRecord(body)) throw new Unfollowable();
      for (const x of Object.values(body)) this.expr(x);
      return;
    }
    if (!isRecord(body)) {
      // An extension function call (ip, decimal, datetime...): its arguments.
      if (!Array.isArray(body) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(op)) throw new Unfollowable();
      for (const x of body as unknown[]) this.expr(x);
      return;
    }
    if (BINARY.has(op)) {
      if (op === 'in') this.ancestorsOf(body['left']);
      this.expr(body['left']);
      this.expr(body['right']);
    } else if (UNARY.has(op)) {
      this.expr(body['arg']);
    } else if (op === 'like') {
      this.expr(body['left']);
    } else if (op === 'is') {
      if (body['in'] !== undefined) this.ancestorsOf(body['left']);
      this.expr(body['left']);
      if (body['in'] !== undefined) this.expr(body['in']);
    } else if (op === 'if-then-else') {
      this.expr(body['if']);
      this.expr(body['then']);
      this.expr(body['else']);
    } else {
      // getTag / hasTag, template slots, anything newer than this module.
      throw new Unfollowable();
    }
  }

  policy(est: unknown): void {
    if (!isRecord(est)) throw new Unfollowable();
    // The scope (principal == / in / is, action in [...], resource ...) reads uids, and parents
    // when it says `in`.
    for (const scope of ENTITY_ROOTS) {
      const s = est[scope];
      if (!isRecord(s) || 'slot' in s) throw new Unfollowable();
      if (s['op'] === 'in' || s['in'] !== undefined) this.use.parents.add(scope);
      else if (!['All', '==', 'is'].includes(String(s['op']))) throw new Unfollowable();
    }
    const conditions = est['conditions'];
    if (!Array.isArray(conditions)) throw new Unfollowable();
    for (const c of conditions as unknown[]) {
      if (!isRecord(c)) throw new Unfollowable();
      this.expr(c['body']);
    }
  }
}

/**
 * What the policies (each in Cedar's JSON policy format, as `policyToJson` gives it) can read, or,
 * when some policy reads in a way this analysis cannot follow, the index of the first such policy.
 */
export function attributeUse(
  policies: readonly unknown[],
): { use: AttributeUse; unfollowable?: undefined } | { use?: undefined; unfollowable: number } {
  const c = new Collector();
  for (const [i, p] of policies.entries()) {
    try {
      c.policy(p);
    } catch (err) {
      if (err instanceof Unfollowable) return { unfollowable: i };
      throw err;
    }
  }
  return { use: c.use };
}

/** A record value of Cedar's JSON (not an `__entity` / `__extn` escape). */
function isPlainRecord(v: unknown): v is Record<string, CedarValueJson> {
  return isRecord(v) && !('__entity' in v) && !('__extn' in v);
}

/** A path leads through an entity reference: what it reads is another entity's, not this value's. */
class ThroughEntity extends Error {}

function pruneRecord(
  value: Record<string, CedarValueJson>,
  use: AttributeNode,
): Record<string, CedarValueJson> {
  const out: Record<string, CedarValueJson> = {};
  for (const [key, child] of use.attrs) {
    if (!Object.hasOwn(value, key)) continue;
    const v = value[key] as CedarValueJson;
    if (child.attrs.size > 0 && isRecord(v) && '__entity' in v) throw new ThroughEntity();
    out[key] = child.whole || !isPlainRecord(v) ? v : pruneRecord(v, child);
  }
  return out;
}

export interface PrunableRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  context: Record<string, CedarValueJson>;
  entities: EntityJson[];
}

/** An entity uid in either of Cedar's JSON spellings, as `type::"id"` text, or undefined. */
function uidKey(u: unknown): string | undefined {
  const inner = isRecord(u) && isRecord(u['__entity']) ? u['__entity'] : u;
  if (!isRecord(inner) || typeof inner['type'] !== 'string' || typeof inner['id'] !== 'string')
    return undefined;
  return `${inner['type']}::${JSON.stringify(inner['id'])}`;
}

/**
 * The request with only the entity attributes, context fields and parents `use` names; unchanged
 * when `use` is undefined, or when a path the policies read leads through an entity reference (the
 * referenced entity's attributes would be read, and nothing here tracks them). An entity that is
 * none of principal, action and resource keeps all its attributes and parents.
 */
export function pruneRequest<R extends PrunableRequest>(req: R, use: AttributeUse | undefined): R {
  if (!use) return req;
  try {
    return prune(req, use);
  } catch (err) {
    if (err instanceof ThroughEntity) return req;
    throw err;
  }
}

function prune<R extends PrunableRequest>(req: R, use: AttributeUse): R {
  // Uid → which root it is; an entity that is two of the roots at once is kept whole.
  const roots = new Map<string, EntityRoot | undefined>();
  for (const root of ENTITY_ROOTS) {
    const key = uidKey(req[root]);
    if (key !== undefined) roots.set(key, roots.has(key) ? undefined : root);
  }
  // Parents are kept where an `in` reads them, and along the way up: a root that is a parent of
  // such an entity has its own parents read too.
  const rootOf = (e: EntityJson): EntityRoot | undefined => {
    const key = uidKey(e.uid);
    return key === undefined ? undefined : roots.get(key);
  };
  const followed = new Set<EntityRoot>(use.parents);
  for (let grew = true; grew;) {
    grew = false;
    for (const e of req.entities) {
      const r = rootOf(e);
      if (r !== undefined && !followed.has(r)) continue;
      for (const p of e.parents) {
        const up = roots.get(uidKey(p) ?? '');
        if (up !== undefined && !followed.has(up)) {
          followed.add(up);
          grew = true;
        }
      }
    }
  }
  const entities: EntityJson[] = [];
  for (const e of req.entities) {
    const root = rootOf(e);
    if (!root || !isPlainRecord(e.attrs)) {
      entities.push(e);
      continue;
    }
    const attrs = pruneRecord(e.attrs, use[root]);
    const parents = followed.has(root) ? e.parents : [];
    // An entity nothing reads into and no `in` follows: absent from the store, it evaluates alike
    // (compared by uid, in only itself).
    if (Object.keys(attrs).length === 0 && parents.length === 0) continue;
    entities.push({ ...e, attrs, parents });
  }
  const context = use.context.whole ? req.context : pruneRecord(req.context, use.context);
  return { ...req, entities, context };
}
