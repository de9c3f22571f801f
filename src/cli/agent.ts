// `warden agent`: agent identities. An agent is a SPIFFE id bound to one public key; tokens are only
// ever issued to whoever proves possession of the matching private key. Warden never stores that
// private key: when it generates the pair, the private half goes to a credential file and nowhere else.

import { readFileSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { issuerUrl } from '../config/index.js';
import { WardenError, q } from '../errors.js';
import { writeCredentialFile } from '../identity/credentials.js';
import { generateAgentKey, type AgentAlg } from '../identity/jwk.js';
import type { Agent } from '../identity/model.js';
import { durationArg, out, printRecord, time } from './options.js';
import { action, printTable, withDataDir, withWarden, type DataDirOpts } from './util.js';

interface CreateOpts extends DataDirOpts {
  sponsor: string;
  publicKey?: string;
  out?: string;
  alg?: AgentAlg;
  expiresIn?: number;
}

type ShowOpts = DataDirOpts & { json?: boolean };

function splitRef(ref: string): { blueprint: string; name: string } {
  const parts = ref.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new WardenError('invalid_argument', `invalid agent ${q(ref)}: expected <blueprint>/<name>`);
  }
  return { blueprint: parts[0], name: parts[1] };
}

function readPublicJwk(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WardenError('invalid_argument', `cannot read public key file ${q(path)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new WardenError('invalid_argument', `public key file ${q(path)} is not JSON`, { cause: err });
  }
}

function fields(a: Agent): Array<[string, string]> {
  return [
    ['id', a.id],
    ['blueprint', a.blueprint],
    ['name', a.name],
    ['sponsor', a.sponsor],
    ['status', a.status],
    ['key thumbprint', a.jkt],
    ['key type', a.publicJwk.kty === 'EC' ? 'EC P-256 (ES256)' : 'OKP Ed25519 (EdDSA)'],
    ['created', time(a.createdAt)],
    ['expires', time(a.expiresAt)],
  ];
}

export function registerAgent(program: Command): void {
  const agent = program
    .command('agent')
    .description('manage agent identities: SPIFFE ids bound to a public key, each with a sponsor');

  withDataDir(
    agent
      .command('create')
      .description(
        'create an agent; without --public-key, generate its key pair and write the private key to a credential file (Warden keeps no copy)',
      )
      .argument(
        '<blueprint/name>',
        'the blueprint to create it from and the agent name, e.g. `support/triage-1`',
      )
      .requiredOption('--sponsor <id>', "the agent's sponsor; must be one of the blueprint's sponsors")
      .option(
        '--public-key <jwk-file>',
        'register this public JWK (EC P-256 or Ed25519) instead of generating a key pair; no credential file is written',
      )
      .option(
        '--out <credential-file>',
        'where to write the credential file with the generated private key (default: ./<name>.credentials.json; never overwritten)',
      )
      .addOption(
        new Option('--alg <alg>', 'algorithm of the generated key (default: ES256)').choices([
          'ES256',
          'EdDSA',
        ]),
      )
      .addOption(
        new Option(
          '--expires-in <duration>',
          'lifetime of the identity in whole days, e.g. 90d (default: registry.agentLifetimeDays)',
        ).argParser(durationArg),
      ),
  ).action(
    action(async (ref: string, opts: CreateOpts) => {
      const { blueprint, name } = splitRef(ref);
      let expiresInDays: number | undefined;
      if (opts.expiresIn !== undefined) {
        if (opts.expiresIn % 86_400 !== 0) {
          throw new WardenError('invalid_argument', '--expires-in must be whole days, e.g. 90d');
        }
        expiresInDays = opts.expiresIn / 86_400;
      }
      if (opts.publicKey !== undefined) {
        if (opts.out !== undefined || opts.alg !== undefined) {
          throw new WardenError(
            'invalid_argument',
            '--out and --alg apply only when warden generates the key',
          );
        }
        const publicJwk = readPublicJwk(opts.publicKey);
        const a = await withWarden(opts, (w) =>
          w.registry.createAgent({ blueprint, name, sponsor: opts.sponsor, publicJwk, expiresInDays }),
        );
        out(`created agent ${a.id}`);
        out(`key thumbprint: ${a.jkt}`);
        out(`expires: ${time(a.expiresAt)}`);
        return;
      }

      const alg = opts.alg ?? 'ES256';
      const file = resolve(opts.out ?? `${name}.credentials.json`);
      const { publicJwk, privateJwk } = generateAgentKey(alg);
      const a = await withWarden(opts, async (w) => {
        const issuer = issuerUrl(w.config);
        const id = w.registry.agentId(`${blueprint}/${name}`);
        // The file comes first: if it cannot be written, nothing is registered, and if the registry
        // refuses, the file goes, so either both exist or neither does.
        writeCredentialFile(file, {
          agentId: id,
          issuer,
          tokenEndpoint: `${issuer}/oauth/token`,
          alg,
          privateJwk,
        });
        try {
          return await w.registry.createAgent({
            blueprint,
            name,
            sponsor: opts.sponsor,
            publicJwk,
            expiresInDays,
          });
        } catch (err) {
          unlinkSync(file);
          throw err;
        }
      });
      out(`created agent ${a.id}`);
      out(`credential file: ${file} (holds the private key; keep it secret)`);
      out(`expires: ${time(a.expiresAt)}`);
    }),
  );

  withDataDir(
    agent
      .command('list')
      .description('list agents')
      .option('--blueprint <name>', 'only agents of this blueprint')
      .option('--json', 'print JSON instead of a table'),
  ).action(
    action(async (opts: ShowOpts & { blueprint?: string }) => {
      const all = await withWarden(opts, (w) =>
        w.registry.listAgents(opts.blueprint === undefined ? {} : { blueprint: opts.blueprint }),
      );
      const rows = all.map((a) => ({
        id: a.id,
        sponsor: a.sponsor,
        status: a.status,
        expires: time(a.expiresAt),
      }));
      printTable(rows, opts.json === true, all);
    }),
  );

  const idArg = 'agent id: spiffe://<trust-domain>/agent/<blueprint>/<name> or <blueprint>/<name>';

  withDataDir(
    agent
      .command('show')
      .description('show an agent')
      .argument('<id>', idArg)
      .option('--json', 'print JSON instead of text'),
  ).action(
    action(async (id: string, opts: ShowOpts) => {
      const a = await withWarden(opts, (w) => w.registry.getAgent(id));
      printRecord(fields(a), opts.json === true, a);
    }),
  );

  withDataDir(
    agent
      .command('suspend')
      .description('suspend an agent: its tokens stop working at once and stay dead after a resume')
      .argument('<id>', idArg),
  ).action(
    action(async (id: string, opts: DataDirOpts) => {
      const a = await withWarden(opts, (w) => w.registry.suspendAgent(id));
      out(`suspended agent ${a.id}`);
    }),
  );

  withDataDir(
    agent
      .command('resume')
      .description('resume a suspended agent; it must get new tokens')
      .argument('<id>', idArg),
  ).action(
    action(async (id: string, opts: DataDirOpts) => {
      const a = await withWarden(opts, (w) => w.registry.resumeAgent(id));
      out(`resumed agent ${a.id}`);
    }),
  );

  withDataDir(
    agent
      .command('retire')
      .description('retire an agent for good: its tokens stop working and it can never be resumed')
      .argument('<id>', idArg),
  ).action(
    action(async (id: string, opts: DataDirOpts) => {
      const a = await withWarden(opts, (w) => w.registry.retireAgent(id));
      out(`retired agent ${a.id}`);
    }),
  );
}
