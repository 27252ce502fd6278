#!/usr/bin/env node
// Entry point of the `ptlab` command: loads the TypeScript CLI through tsx, so a checkout runs
// without a separate build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
