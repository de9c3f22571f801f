// The task's intent: what the human asked for, declared once by the agent runtime when the
// session starts, before any tool has run. Values in it, and values found in its text, are
// user-given: an argument holding them did not come from untrusted content.
//
// How a runtime declares it (the gateway reads either, once per session):
//   - in the MCP `initialize` request: `params._meta["warden/intent"] = { text, values }`;
//   - or in a `notifications/warden/intent` notification with params `{ text, values }`, sent
//     after `notifications/initialized` and before the first request.
// `text` is the human's task as they wrote it; `values` are the exact values they gave (a
// recipient, an IBAN, a URL) when the runtime has them separately.

import { z } from 'zod';
import { q } from '../errors.js';
import { FlowError } from './flow-error.js';

export const INTENT_META_KEY = 'warden/intent';
export const INTENT_NOTIFICATION = 'notifications/warden/intent';

export const MAX_INTENT_VALUES = 64;
export const MAX_INTENT_VALUE_BYTES = 2 * 1024;
export const MAX_INTENT_TEXT_BYTES = 16 * 1024;

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

export const IntentSchema = z
  .object({
    text: z
      .string()
      .refine((s) => utf8Bytes(s) <= MAX_INTENT_TEXT_BYTES, {
        message: `must be at most ${MAX_INTENT_TEXT_BYTES} bytes of UTF-8`,
      })
      .optional(),
    values: z
      .array(
        z
          .string()
          .min(1)
          .refine((s) => utf8Bytes(s) <= MAX_INTENT_VALUE_BYTES, {
            message: `must be at most ${MAX_INTENT_VALUE_BYTES} bytes of UTF-8`,
          }),
      )
      .max(MAX_INTENT_VALUES)
      .optional(),
  })
  .strict();

export type Intent = z.infer<typeof IntentSchema>;

/** Parse an intent payload from the wire; the error names the offending field. */
export function parseIntent(raw: unknown): Intent {
  const parsed = IntentSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  if (issue?.code === 'unrecognized_keys') {
    throw new FlowError('intent_invalid', `intent has unknown key ${issue.keys.map((k) => q(k)).join(', ')}`);
  }
  const message = issue ? issue.message.charAt(0).toLowerCase() + issue.message.slice(1) : 'invalid';
  throw new FlowError('intent_invalid', `intent ${path ? `field ${q(path)}` : 'payload'}: ${message}`);
}
