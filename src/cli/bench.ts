/** `ptlab bench`: placeholder until the benchmark module lands. */
import type { Command } from 'commander';

export function registerBench(_program: Command): void {}
