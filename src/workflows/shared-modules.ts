import { z } from 'zod';
import { util } from 'zod/v4/core';
// Preloaded so that its memo is the thread's, not each workflow's (see thread-memo.ts).
import '../shared/thread-memo.js';

// Modules every workflow of a worker thread shares (the bundle's preloadModules, see
// src/workers/bundle-options.ts) instead of evaluating them again for each cached workflow:
// zod is most of the bundle's library code, and evaluated per workflow it cost megabytes of
// heap for every workflow in the cache. Shared modules must hold no workflow state, since the
// SDK deep-freezes them: zod keeps none (the schemas live in our per-workflow modules).
//
// zod finishes configuring itself on first use (its default locale and memoizer, whether eval
// works) by writing to module-level objects, which frozen modules reject ("object is not
// extensible"). One parse that fails, here, before the freeze, does all of it.
//
// jitless: zod compiles a parser for each object schema (new Function) on its first parse, which
// pays off for a schema parsed many times; here every workflow builds its own schemas and parses
// its input once, so the compile was pure cost (~2 ms of a conversation run).
z.config({ jitless: true });
z.object({ probe: z.string().min(1) }).safeParse({ probe: '' });
void util.allowsEval.value;
