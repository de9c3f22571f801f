// `warden witness`: run a C2SP tlog-witness for one or more Warden logs, on another machine or in
// another process, so that a log operator cannot rewrite history unseen. Needs no data directory.

import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { Witness, witnessHandler } from '../audit/witness.js';
import { formatSignerKey, formatVerifierKey, generateSignerKey } from '../audit/verify/index.js';
import { WardenError, q } from '../errors.js';
import { action } from './util.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function keyLines(values: readonly string[]): string[] {
  return values.flatMap((v) =>
    existsSync(v)
      ? readFileSync(v, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !l.startsWith('#'))
      : [v],
  );
}

function readSecret(file: string): string {
  if (!existsSync(file))
    throw new WardenError('not_found', `no key file ${q(file)}: run \`warden witness init\``);
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new WardenError(
      'key_file_invalid',
      `witness key file ${q(file)} is readable by others (mode ${mode.toString(8)}): run chmod 600 on it`,
    );
  }
  return readFileSync(file, 'utf8').trim();
}

export function registerWitness(program: Command): void {
  const cmd = program
    .command('witness')
    .description(
      "a C2SP tlog-witness: cosigns a log's checkpoints only while it proves it never rewrote history",
    );

  cmd
    .command('init')
    .description('create a witness key (cosignature/v1, Ed25519) and print its verifier key')
    .requiredOption('--name <name>', 'the witness name, e.g. witness.example.com/w1')
    .requiredOption('--key-file <file>', 'where to write the signer key (mode 0600; never overwritten)')
    .action(
      action((opts: { name: string; keyFile: string }) => {
        if (existsSync(opts.keyFile)) throw new WardenError('already_exists', `${q(opts.keyFile)} exists`);
        const key = generateSignerKey(opts.name, 'cosignature');
        writeFileSync(opts.keyFile, `${formatSignerKey(key)}\n`, { mode: 0o600, flag: 'wx' });
        chmodSync(opts.keyFile, 0o600);
        process.stdout.write(`${formatVerifierKey(key.verifierKey)}\n`);
      }),
    );

  cmd
    .command('serve')
    .description('serve POST /add-checkpoint for the given logs until interrupted')
    .requiredOption('--key-file <file>', 'the witness signer key (`warden witness init`)')
    .requiredOption(
      '--log-key <vkey>',
      "a witnessed log's verifier key, or a file of them (repeatable)",
      collect,
    )
    .requiredOption('--state <file>', 'where the last cosigned checkpoint of each log is kept')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free one)', '8790')
    .action(
      action(
        async (opts: { keyFile: string; logKey: string[]; state: string; host: string; port: string }) => {
          if (!/^\d{1,5}$/.test(opts.port) || Number(opts.port) > 65535) {
            throw new WardenError('invalid_argument', `invalid --port ${q(opts.port)}: expected 0 to 65535`);
          }
          const witness = new Witness({
            signerKey: readSecret(opts.keyFile),
            logKeys: keyLines(opts.logKey),
            stateFile: opts.state,
          });
          const server = createServer(witnessHandler(witness));
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(Number(opts.port), opts.host, () => resolve());
          });
          const { port } = server.address() as AddressInfo;
          process.stdout.write(`witness ${formatVerifierKey(witness.verifierKey)}\n`);
          process.stdout.write(`listening on http://${opts.host}:${port}\n`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await new Promise((r) => server.close(r));
        },
      ),
    );
}
