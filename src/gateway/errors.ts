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

/**
 * A JSON-RPC error for the agent. The SDK's McpError prefixes its message with "MCP error <code>:",
 * and the agent's SDK prefixes it again on receipt; the wire carries the plain message.
 */
export function gatewayError(code: number, message: string, data?: unknown): McpError {
  const err = new McpError(code, message, data);
  Object.defineProperty(err, 'message', { value: message });
  return err;
}
