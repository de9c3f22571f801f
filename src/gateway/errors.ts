// JSON-RPC error codes the gateway returns to agents. A refusal is a value with a readable
// message; nothing internal (stack traces, upstream credentials, file paths) is ever included.

import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** Implementation-defined JSON-RPC server error codes (-32000 to -32099). */
export const GatewayErrorCode = {
  Denied: -32010,
  ApprovalRequired: -32011,
  Quarantined: -32012,
  UpstreamUnavailable: -32013,
  UpstreamTimeout: -32014,
  Unavailable: -32015,
} as const;

export function denied(message: string, data: Record<string, unknown>): McpError {
  return new McpError(GatewayErrorCode.Denied, message, data);
}
