import { defineQuery } from '@temporalio/workflow';
import type { ExperimentOutcome } from './schemas.js';

/** Every experiment's outcome so far, in input order. */
export const batchProgressQuery = defineQuery<ExperimentOutcome[]>('progress');
