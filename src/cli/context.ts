// Opening a data directory: configuration, store, audit sink, registry and service keys, created
// on first use. Every command goes through here so they all agree on where things live.

import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogAuditSink, ensureLogKeys, type AuditSink, type LogKeys } from '../audit/index.js';
import { checkWitnessTargets } from '../audit/witness-client.js';
import { NO_EXPORT, otlpTracing, type Tracing } from '../audit/tracing.js';
import { CONFIG_FILE, DEFAULT_CONFIG_YAML, loadConfig, type WardenConfig } from '../config/index.js';
import { WardenError, q } from '../errors.js';
import { createSigningKey } from '../identity/keys.js';
import { generateAgentKey, startIdentityService, type IdentityService } from '../identity/index.js';
import { AgentClient } from '../identity/client.js';
import { readCredentialFile, writeCredentialFile } from '../identity/credentials.js';
import { gatewayMount, type StartedGateway } from '../gateway/start.js';
import { installStockPolicies } from '../policy/stock.js';
import { Registry } from '../identity/registry.js';
import { openSqliteStore, type Store } from '../store/index.js';

export interface Warden {
  dataDir: string;
  config: WardenConfig;
  store: Store;
  audit: AuditSink;
  registry: Registry;
  /** The evidence log's keys; present when opened to serve. */
  logKeys: LogKeys | null;
  /** Spans of what is done for agents; exported when `telemetry.otlpEndpoint` is set. */
  tracing: Tracing;
  close(): Promise<void>;
}

export interface InitResult {
  dataDir: string;
  createdConfig: boolean;
  createdKey: string | null;
  /** Stock policy files written into a new policy directory. */
  installedPolicies: string[];
}

/** Create the data directory, `warden.yaml` and the first signing key; leaves existing ones alone. */
export async function initDataDir(dataDir: string): Promise<InitResult> {
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
    throw new WardenError('data_dir_invalid', `data directory ${q(dataDir)} exists and is not a directory`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const configFile = join(dataDir, CONFIG_FILE);
  let createdConfig = false;
  if (!existsSync(configFile)) {
    writeFileSync(configFile, DEFAULT_CONFIG_YAML, { mode: 0o600 });
    createdConfig = true;
  }
  const config = loadConfig(dataDir);
  const store = await openSqliteStore(join(dataDir, config.store.path));
  try {
    const audit = new LogAuditSink(store);
    ensureLogKeys(dataDir, config.trustDomain, config.audit.postQuantum);
    const existing = await store.db
      .selectFrom('signing_keys')
      .select('kid')
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    const createdKey = existing ? null : await createSigningKey(store, dataDir, audit);
    const policyDir = join(dataDir, config.gateway.policyDir);
    const installedPolicies = existsSync(policyDir) ? [] : installStockPolicies(policyDir);
    return { dataDir, createdConfig, createdKey, installedPolicies };
  } finally {
    await store.close();
  }
}

/** Open an initialised data directory. Refuses, with the fix in the message, when it is not. */
export async function openWarden(dataDir: string, opts: { serve?: boolean } = {}): Promise<Warden> {
  if (!existsSync(join(dataDir, CONFIG_FILE))) {
    throw new WardenError(
      'config_not_found',
      `${q(dataDir)} is not a Warden data directory: run \`warden init\` first`,
    );
  }
  const config = loadConfig(dataDir);
  const store = await openSqliteStore(join(dataDir, config.store.path));
  // A serving process commits from a writer thread and signs checkpoints; a CLI command appends
  // inline and leaves checkpoints to the server (or `warden audit checkpoint`).
  const logKeys = opts.serve ? ensureLogKeys(dataDir, config.trustDomain, config.audit.postQuantum) : null;
  if (opts.serve) checkWitnessTargets(config.audit.witnesses);
  const audit = new LogAuditSink(
    store,
    logKeys
      ? {
          checkpoints: {
            signerKeys: logKeys.signerKeys,
            everyEntries: config.audit.checkpointEveryEntries,
            intervalMs: config.audit.checkpointIntervalMs,
          },
          witnesses: config.audit.witnesses,
        }
      : undefined,
  );
  const tracing =
    opts.serve && config.telemetry.otlpEndpoint
      ? otlpTracing({ endpoint: config.telemetry.otlpEndpoint, serviceName: config.telemetry.serviceName })
      : NO_EXPORT;
  const registry = new Registry(store, audit, {
    trustDomain: config.trustDomain,
    agentLifetimeDays: config.registry.agentLifetimeDays,
  });
  return {
    dataDir,
    config,
    store,
    audit,
    registry,
    logKeys,
    tracing,
    async close() {
      await audit.close();
      await tracing.shutdown().catch(() => undefined);
      await store.close();
    },
  };
}

/**
 * Serve an opened data directory as `warden serve` does: the identity service with the gateway at
 * `/mcp`, the evidence log at `/audit/v1/`, spans as configured. If it cannot start, the data
 * directory is closed first (its audit writer thread would otherwise keep the process alive).
 */
export async function serveWarden(
  w: Warden,
  opts: {
    log: (line: string) => void;
    host?: string;
    port?: number;
    /** Called with the gateway once it runs (the demo and the tests drive it directly). */
    onGateway?: (g: StartedGateway) => void;
  },
): Promise<IdentityService> {
  try {
    return await startIdentityService({
      dataDir: w.dataDir,
      config: w.config,
      store: w.store,
      audit: w.audit,
      tracing: w.tracing,
      ...(w.logKeys ? { auditLog: { verifierKeys: w.logKeys.verifierKeys } } : {}),
      mcp: gatewayMount(
        {
          dataDir: w.dataDir,
          config: w.config,
          store: w.store,
          audit: w.audit,
          log: opts.log,
          tracing: w.tracing,
        },
        opts.onGateway,
      ),
      ...(opts.host !== undefined ? { host: opts.host } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
    });
  } catch (err) {
    await w.close();
    throw err;
  }
}

/**
 * Register an agent of `blueprint` on the running service with a fresh key pair, write its
 * credential file (0600) and return a client that authenticates as it: what `warden demo`, the
 * test harness and the AgentDojo replay do before connecting an MCP client.
 */
export async function enrolAgent(
  w: Warden,
  svc: IdentityService,
  o: { blueprint: string; name: string; sponsor: string; credentialsFile: string },
): Promise<{ id: string; client: AgentClient }> {
  const { publicJwk, privateJwk } = generateAgentKey('ES256');
  const agent = await w.registry.createAgent({
    blueprint: o.blueprint,
    name: o.name,
    sponsor: o.sponsor,
    publicJwk,
  });
  await svc.state.refresh();
  writeCredentialFile(o.credentialsFile, {
    agentId: agent.id,
    issuer: svc.issuer,
    tokenEndpoint: `${svc.issuer}/oauth/token`,
    alg: 'ES256',
    privateJwk,
  });
  return { id: agent.id, client: new AgentClient(readCredentialFile(o.credentialsFile)) };
}
