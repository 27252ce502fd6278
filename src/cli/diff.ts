/** `ptlab diff`: placeholder replaced by the oracle work (src/oracle). */
import type { Command } from 'commander';

export function registerDiff(_program: Command): void {}
