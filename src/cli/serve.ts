// `warden serve`: the main job. On the embedded default it initialises the data directory on
// first run (SQLite, local keys, default configuration), then serves until interrupted.

import { join } from 'node:path';
import type { Command } from 'commander';
import { LOG_VKEY_FILE } from '../audit/index.js';
import { resolveDataDir } from '../config/index.js';
import { WardenError } from '../errors.js';
import { initDataDir, openWarden, serveWarden } from './context.js';
import { action, withDataDir, type DataDirOpts } from './util.js';

interface ServeOpts extends DataDirOpts {
  port?: string;
  host?: string;
}

export function registerServe(program: Command): void {
  withDataDir(
    program
      .command('serve')
      .description(
        'run the Warden service: the MCP gateway at /mcp, the token endpoint, JWKS and introspection; initialises the data directory on first run',
      )
      .option('--port <port>', 'TCP port to listen on (default: server.port from warden.yaml, 8787)')
      .option('--host <host>', 'address to bind (default: server.host from warden.yaml, 127.0.0.1)'),
  ).action(
    action(async (opts: ServeOpts) => {
      const dataDir = resolveDataDir(opts.dataDir);
      const init = await initDataDir(dataDir);
      if (init.createdConfig) process.stdout.write(`initialised ${dataDir}\n`);
      let port: number | undefined;
      if (opts.port !== undefined) {
        if (!/^\d{1,5}$/.test(opts.port) || Number(opts.port) > 65535) {
          throw new WardenError('invalid_argument', `invalid --port \`${opts.port}\`: expected 0 to 65535`);
        }
        port = Number(opts.port);
      }
      const w = await openWarden(dataDir, { serve: true });
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const service = await serveWarden(w, {
        log,
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(port !== undefined ? { port } : {}),
      });
      process.stdout.write(`warden listening on ${service.issuer}\n`);
      process.stdout.write(`  metadata  ${service.issuer}/.well-known/oauth-authorization-server\n`);
      process.stdout.write(
        `  gateway   ${service.issuer}/mcp (${w.config.upstreams.length} upstream servers)\n`,
      );
      process.stdout.write(
        `  audit     ${service.issuer}/audit/v1/checkpoint (verifier key: ${join(dataDir, LOG_VKEY_FILE)})\n`,
      );
      process.stdout.write(`  data dir  ${dataDir}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await service.close();
      await w.close();
      process.stdout.write('warden stopped\n');
    }),
  );
}
