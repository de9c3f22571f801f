// Small readers for MCP results in tests.

import assert from 'node:assert/strict';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** The text of a CallToolResult's content, joined. */
export function text(r: unknown): string {
  const c = (r as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return c.map((x) => x.text ?? '').join('');
}

/** The JSON-RPC error a request must end in; fails the test if it succeeds or fails otherwise. */
export async function rpcError(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  assert.fail('expected a JSON-RPC error');
}
