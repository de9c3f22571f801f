// The evidence log over HTTP, under /audit/v1/. Checkpoints, verifier keys and proofs are hashes
// and signatures only, so they are public: anyone may check that the log only grows. Entries say
// what agents did, with their arguments, so reading them needs the operator's credential.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { WardenError } from '../errors.js';
import { proveConsistency, proveInclusion } from './prove.js';
import type { LogStorage } from './storage.js';
import { leafHash } from './verify/index.js';

export interface AuditHttpDeps {
  storage: LogStorage;
  verifierKeys: readonly string[];
  /** Whether the request carries the operator's credential (needed for entries). */
  mayReadEntries: (req: IncomingMessage) => boolean;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, {
    'content-type': type === 'application/json' ? type : `${type}; charset=utf-8`,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function count(params: URLSearchParams, name: string): number {
  const values = params.getAll(name);
  const v = values[0];
  if (values.length !== 1 || v === undefined || !/^\d{1,15}$/.test(v)) {
    throw new WardenError('invalid_argument', `exactly one whole-number \`${name}\` parameter is required`);
  }
  return Number(v);
}

/** Serve a request under /audit/v1/; returns false for paths that are not the log's. */
export function auditHandler(deps: AuditHttpDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/audit/v1/')) return false;
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      send(res, 405, { error: 'method_not_allowed' });
      return true;
    }
    const path = url.pathname.slice('/audit/v1/'.length);
    try {
      if (path === 'checkpoint') {
        const c = deps.storage.latestCheckpoint();
        if (!c)
          send(res, 404, { error: 'not_found', error_description: 'no checkpoint has been signed yet' });
        else send(res, 200, c.note, 'text/plain');
      } else if (path === 'vkey') {
        send(res, 200, `${deps.verifierKeys.join('\n')}\n`, 'text/plain');
      } else if (path === 'proof/inclusion') {
        const index = count(url.searchParams, 'index');
        const size = count(url.searchParams, 'size');
        const proof = proveInclusion(deps.storage, index, size);
        send(res, 200, { index, size, proof: proof.map((h) => h.toString('base64')) });
      } else if (path === 'proof/consistency') {
        const size1 = count(url.searchParams, 'size1');
        const size2 = count(url.searchParams, 'size2');
        const proof = proveConsistency(deps.storage, size1, size2);
        send(res, 200, { size1, size2, proof: proof.map((h) => h.toString('base64')) });
      } else if (/^entries\/\d{1,15}$/.test(path)) {
        if (!deps.mayReadEntries(req)) {
          res.setHeader('www-authenticate', 'Bearer realm="warden"');
          send(res, 401, {
            error: 'unauthorized',
            error_description: "reading entries requires the operator's credential",
          });
          return true;
        }
        const index = Number(path.slice('entries/'.length));
        const e = deps.storage.entry(index);
        if (!e) send(res, 404, { error: 'not_found', error_description: `the log has no entry ${index}` });
        else
          send(res, 200, {
            index,
            leaf_hash: leafHash(e.entry).toString('base64'),
            entry: e.entry.toString('base64'),
          });
      } else {
        send(res, 404, { error: 'not_found' });
      }
    } catch (err) {
      if (err instanceof WardenError && (err.code === 'invalid_argument' || err.code === 'not_found')) {
        send(res, 400, { error: 'invalid_request', error_description: err.message });
      } else {
        send(res, 500, { error: 'server_error', error_description: 'the log could not answer' });
      }
    }
    return true;
  };
}
