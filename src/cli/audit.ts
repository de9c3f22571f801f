// `warden audit`: read, verify and prove the evidence log. `verify-evidence` needs nothing but the
// bundle and the log's verifier key: no data directory, no network.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  decodeEntry,
  ensureLogKeys,
  LOG_VKEY_FILE,
  LogStorage,
  logConnection,
  makeCheckpoint,
  type StoredEntry,
} from '../audit/index.js';
import { buildEvidence, proveConsistency } from '../audit/prove.js';
import { verifyLog } from '../audit/verify-log.js';
import {
  formatVerifierKey,
  leafHash,
  openNote,
  parseCheckpoint,
  parseEvidence,
  parseVerifierKey,
  verifyConsistency,
  verifyEvidence,
} from '../audit/verify/index.js';
import { WardenError, q } from '../errors.js';
import type { Warden } from './context.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

type JsonOpts = DataDirOpts & { json?: boolean };

function storage(w: Warden): LogStorage {
  return new LogStorage(logConnection(w.store).connection);
}

/** The log's verifier keys: the data directory's audit-log.vkey. */
function localVerifierKeys(w: Warden): string[] {
  const file = join(w.dataDir, LOG_VKEY_FILE);
  if (!existsSync(file)) {
    throw new WardenError('not_found', `${q(file)} is missing: run \`warden init\` to create the log's keys`);
  }
  return readKeyLines(file);
}

function readKeyLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** A key given on the command line: a verifier key itself, or a file holding one per line. */
function keysFrom(values: readonly string[]): string[] {
  return values.flatMap((v) => (existsSync(v) ? readKeyLines(v) : [v]));
}

function index(value: string, what: string): number {
  if (!/^\d{1,15}$/.test(value))
    throw new WardenError('invalid_argument', `${what} must be a whole number, not ${q(value)}`);
  return Number(value);
}

function summary(e: StoredEntry): Record<string, string> {
  const entry = decodeEntry(e.entry);
  return {
    index: String(e.idx),
    time: entry.time,
    type: entry.type,
    outcome: entry.outcome,
    actor: entry.actor ?? '',
    subject: entry.subject ?? '',
    reason: entry.reason ?? '',
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerAudit(program: Command): void {
  const cmd = program
    .command('audit')
    .description('the evidence log: every action as a Merkle-tree entry, signed checkpoints, offline proofs');

  withDataDir(
    cmd
      .command('tail')
      .description('print the newest entries, oldest first')
      .option('-n, --lines <n>', 'how many entries', '20')
      .option('--json', 'print the entries themselves as JSON'),
  ).action(
    action(async (opts: JsonOpts & { lines: string }) => {
      const n = index(opts.lines, '--lines');
      await withWarden(opts, (w) => {
        const s = storage(w);
        const rows = s.entries(Math.max(0, s.size() - n), n);
        printTable(
          rows.map(summary),
          Boolean(opts.json),
          rows.map((r) => ({ index: r.idx, entry: decodeEntry(r.entry) })),
        );
        return Promise.resolve();
      });
    }),
  );

  withDataDir(
    cmd
      .command('show <index>')
      .description('print one entry, its leaf hash, and whether a signed checkpoint covers it yet')
      .option('--json', 'print JSON'),
  ).action(
    action(async (value: string, opts: JsonOpts) => {
      const i = index(value, 'the index');
      await withWarden(opts, (w) => {
        const s = storage(w);
        const row = s.entry(i);
        if (!row) throw new WardenError('not_found', `the log has no entry ${i} (it has ${s.size()})`);
        const shown = {
          index: row.idx,
          leaf_hash: leafHash(row.entry).toString('hex'),
          covered_by_checkpoint: (s.latestCheckpoint()?.size ?? 0) > i,
          entry: decodeEntry(row.entry),
        };
        process.stdout.write(`${JSON.stringify(shown, null, opts.json ? 0 : 2)}\n`);
        return Promise.resolve();
      });
    }),
  );

  withDataDir(
    cmd
      .command('verify')
      .description(
        'recompute the tree from every stored entry and check every stored hash and signed checkpoint; names the first index that disagrees',
      )
      .option('--witness-key <vkey>', 'a trusted witness key, or a file of them (repeatable)', collect)
      .option(
        '--min-cosignatures <n>',
        'require the newest checkpoint to carry this many trusted cosignatures',
        '0',
      ),
  ).action(
    action(async (opts: DataDirOpts & { witnessKey?: string[]; minCosignatures: string }) => {
      const required = index(opts.minCosignatures, '--min-cosignatures');
      await withWarden(opts, async (w) => {
        const started = Date.now();
        const result = await verifyLog(storage(w), localVerifierKeys(w), (done, total) => {
          if (total >= 100_000) process.stderr.write(`verified ${done} of ${total} entries\n`);
        });
        if (result.problem) {
          process.exitCode = 1;
          process.stdout.write(`FAILED at index ${result.problem.index}: ${result.problem.message}\n`);
          return Promise.resolve();
        }
        let cosigned = '';
        if (required > 0) {
          const latest = storage(w).latestCheckpoint();
          const witnesses = keysFrom(opts.witnessKey ?? []).map((k) => parseVerifierKey(k));
          if (witnesses.some((k) => k.type !== 'cosignature')) {
            throw new WardenError('invalid_argument', '--witness-key takes cosignature/v1 keys only');
          }
          const names = latest
            ? new Set(
                openNote(latest.note, [
                  ...localVerifierKeys(w),
                  ...witnesses.map((k) => formatVerifierKey(k)),
                ])
                  .verified.filter((v) => v.type === 'cosignature')
                  .map((v) => v.name),
              )
            : new Set<string>();
          if (names.size < required) {
            process.exitCode = 1;
            process.stdout.write(
              `FAILED: the newest checkpoint carries ${names.size} trusted cosignatures, ${required} required\n`,
            );
            return Promise.resolve();
          }
          cosigned = `, the newest cosigned by ${[...names].join(', ')}`;
        }
        process.stdout.write(
          `ok: ${result.size} entries, ${result.checkpoints} signed checkpoints verified${cosigned} (${Date.now() - started} ms)\n`,
        );
        return Promise.resolve();
      });
    }),
  );

  withDataDir(cmd.command('checkpoint').description('sign a checkpoint of the log as it is now')).action(
    action(async (opts: DataDirOpts) => {
      await withWarden(opts, (w) => {
        const keys = ensureLogKeys(w.dataDir, w.config.trustDomain, w.config.audit.postQuantum);
        const c = makeCheckpoint(storage(w), keys.signerKeys, Date.now());
        process.stdout.write(c.note);
        return Promise.resolve();
      });
    }),
  );

  withDataDir(
    cmd
      .command('prove <index>')
      .description('print a self-contained evidence bundle for one entry (JSON), checkable offline')
      .option('--size <size>', 'prove against the signed checkpoint of this size (default: the newest)'),
  ).action(
    action(async (value: string, opts: DataDirOpts & { size?: string }) => {
      const i = index(value, 'the index');
      await withWarden(opts, (w) => {
        const [key] = localVerifierKeys(w);
        const bundle = buildEvidence(storage(w), i, key as string, {
          ...(opts.size !== undefined ? { size: index(opts.size, '--size') } : {}),
        });
        process.stdout.write(`${JSON.stringify(bundle, null, 2)}\n`);
        return Promise.resolve();
      });
    }),
  );

  cmd
    .command('verify-evidence <file>')
    .description('check an evidence bundle offline: the entry, its inclusion proof and the signed checkpoint')
    .requiredOption('--key <vkey>', "the log's verifier key, or a file holding it (repeatable)", collect)
    .option('--witness-key <vkey>', 'a trusted witness key, or a file of them (repeatable)', collect)
    .option('--min-cosignatures <n>', 'require this many trusted witness cosignatures', '0')
    .action(
      action((file: string, opts: { key: string[]; witnessKey?: string[]; minCosignatures: string }) => {
        let json: unknown;
        try {
          json = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new WardenError(
            'invalid_argument',
            `cannot read evidence ${q(file)}: ${(err as Error).message}`,
          );
        }
        const result = verifyEvidence(parseEvidence(json), {
          keys: keysFrom(opts.key),
          witnessKeys: keysFrom(opts.witnessKey ?? []),
          minCosignatures: index(opts.minCosignatures, '--min-cosignatures'),
        });
        const entry = decodeEntry(result.entry);
        process.stdout.write(
          `ok: entry ${result.index} is in the log ${result.origin} of ${result.size} entries` +
            (result.cosigners.length > 0 ? `, cosigned by ${result.cosigners.join(', ')}` : '') +
            `\n  ${entry.time} ${entry.type} ${entry.outcome} actor=${entry.actor ?? '-'} subject=${entry.subject ?? '-'}\n`,
        );
      }),
    );

  withDataDir(
    cmd
      .command('consistency <checkpoint-file>')
      .description('prove that the log today extends a checkpoint saved earlier (nothing rewritten since)'),
  ).action(
    action(async (file: string, opts: DataDirOpts) => {
      await withWarden(opts, (w) => {
        const keys = localVerifierKeys(w).map((k) => parseVerifierKey(k));
        const saved = parseCheckpoint(openNote(readFileSync(file, 'utf8'), keys).text);
        const s = storage(w);
        const latest = s.latestCheckpoint();
        if (!latest) throw new WardenError('not_found', 'the log has no signed checkpoint yet');
        const now = parseCheckpoint(openNote(latest.note, keys).text);
        if (saved.origin !== now.origin) {
          throw new WardenError(
            'audit_log_invalid',
            `the saved checkpoint is of log ${q(saved.origin)}, not ${q(now.origin)}`,
          );
        }
        if (saved.size > now.size) {
          throw new WardenError(
            'audit_log_invalid',
            `the saved checkpoint has ${saved.size} entries but the log's newest has ${now.size}: entries were removed`,
          );
        }
        const proof =
          saved.size === 0 || saved.size === now.size ? [] : proveConsistency(s, saved.size, now.size);
        if (saved.size > 0) verifyConsistency(saved.size, now.size, proof, saved.root, now.root);
        else if (now.size === 0 && !saved.root.equals(now.root))
          throw new WardenError('audit_log_invalid', 'the roots differ');
        process.stdout.write(
          `ok: the log of ${now.size} entries extends the saved checkpoint of ${saved.size} (proof of ${proof.length} hashes)\n`,
        );
        return Promise.resolve();
      });
    }),
  );
}
