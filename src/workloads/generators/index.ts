/** The workload generators by name (`ptlab generate NAME`, `ptlab replay --generate NAME`). */
import { coverLetter } from './cover_letter.js';
import type { WorkloadGenerator } from './generator.js';
import { heap } from './heap.js';
import { production } from './production.js';
import { sparse } from './sparse.js';

export const GENERATORS: Record<string, WorkloadGenerator> = Object.fromEntries(
  [coverLetter, heap, sparse, production].map((g) => [g.name, g]),
);

export { resolveParams, type WorkloadGenerator, type GeneratedTrace } from './generator.js';
