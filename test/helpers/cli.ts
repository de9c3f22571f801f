// Where the built `warden` binary is; tests that spawn it need `npm run build` first (`npm test` does).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WARDEN_BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

if (!existsSync(WARDEN_BIN)) {
  throw new Error(`${WARDEN_BIN} is missing: run \`npm run build\` before these tests`);
}
