// `warden serve`: placeholder until the token service lands.
import type { Command } from 'commander';
export function registerServe(_program: Command): void {}
