// The issuer URL and default token audience derived from the configuration.

import type { WardenConfig } from './schema.js';

/** `server.publicUrl` when set (without a trailing slash), else the loopback listen address. */
export function issuerUrl(config: WardenConfig, boundPort?: number): string {
  if (config.server.publicUrl) return config.server.publicUrl.replace(/\/+$/, '');
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return `http://${host}:${boundPort ?? config.server.port}`;
}

/** Audiences put in tokens when the client names none: the configured list, else the gateway. */
export function defaultAudience(config: WardenConfig, issuer: string): string[] {
  return config.tokens.audience ?? [`${issuer}/mcp`];
}
