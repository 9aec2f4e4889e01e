import { fileURLToPath } from 'node:url';
import { tolerantPayloadConverterPath } from '../codec/data-converter.js';

// What goes into the workflow bundle besides the workflows: the interceptor, payload converter
// and shared (preloaded) modules. Every bundler (tests, benchmarks, chaos) passes bundleOptions,
// and the worker passes the same paths, so a prebuilt bundle and one built at start behave alike.

// interceptors.ts under tsx (source tree), interceptors.js in dist/ (the built package).
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
export const workflowInterceptorModules = [fileURLToPath(new URL(`../workflows/interceptors.${ext}`, import.meta.url))];
/** Evaluated once per workflow thread and shared by its workflows (see shared-modules.ts). */
export const preloadModules = [fileURLToPath(new URL(`../workflows/shared-modules.${ext}`, import.meta.url))];

/** Everything a bundler of Shepherd's workflow code passes besides workflowsPath and a logger. */
export const bundleOptions = { workflowInterceptorModules, preloadModules, payloadConverterPath: tolerantPayloadConverterPath };
