// `warden keys`: placeholder until key rotation lands.
import type { Command } from 'commander';
export function registerKeys(_program: Command): void {}
