import { fileURLToPath } from 'node:url';

// What goes into the workflow bundle besides the workflows: the interceptor and payload
// converter modules. Every bundler (worker start-up, tests, benchmarks) passes these, and the
// worker passes the same paths, so a prebuilt bundle and a bundle built at start behave alike.

// interceptors.ts under tsx (source tree), interceptors.js in dist/ (the built package).
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
export const workflowInterceptorModules = [fileURLToPath(new URL(`../workflows/interceptors.${ext}`, import.meta.url))];
/** Evaluated once per workflow thread and shared by its workflows (see shared-modules.ts). */
export const preloadModules = [fileURLToPath(new URL(`../workflows/shared-modules.${ext}`, import.meta.url))];
export { tolerantPayloadConverterPath as payloadConverterPath } from '../codec/data-converter.js';
