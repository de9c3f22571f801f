#!/usr/bin/env node
// The `warden` binary. Everything it does is in program.ts, which tests load without a process.

import { runCli } from './program.js';

await runCli(process.argv);
