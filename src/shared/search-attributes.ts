import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// The four Keyword search attributes every pipeline sets (see DESIGN.md: the dev server allows at
// most ten). Typed keys instead of the deprecated record form, so a misspelt name or a wrong value
// type is a compile error rather than an attribute the Web UI never shows.

/** The workflow type that set it, e.g. `experimentBatch`. */
export const PIPELINE_KIND = defineSearchAttributeKey('PipelineKind', SearchAttributeType.KEYWORD);
/** The pipeline's own ID (batch, job or queue name). */
export const PIPELINE_ID = defineSearchAttributeKey('PipelineId', SearchAttributeType.KEYWORD);
/** What the execution works on: an experiment, a parameter set, an item, a model. */
export const TARGET = defineSearchAttributeKey('Target', SearchAttributeType.KEYWORD);
/** Where it is now: running, a step name, completed, failed... */
export const STAGE = defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD);
