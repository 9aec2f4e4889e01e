import { fileURLToPath } from 'node:url';
import type { BundleOptions } from '@temporalio/worker';
import { tolerantPayloadConverterPath } from '../codec/data-converter.js';

// What goes into the workflow bundle besides the workflows: the interceptor, payload converter
// and shared (preloaded) modules. Every bundler (tests, benchmarks, chaos) passes bundleOptions,
// and the worker passes the same paths, so a prebuilt bundle and one built at start behave alike.

// interceptors.ts under tsx (source tree), interceptors.js in dist/ (the built package).
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
export const workflowInterceptorModules = [fileURLToPath(new URL(`../workflows/interceptors.${ext}`, import.meta.url))];
/** Evaluated once per workflow thread and shared by its workflows (see shared-modules.ts). */
export const preloadModules = [fileURLToPath(new URL(`../workflows/shared-modules.${ext}`, import.meta.url))];

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/**
 * Dynamic imports in workflow code stay in the one file the SDK loads from the bundle and are
 * evaluated when called (see src/workflows/lazy-workflow.ts); webpack's default would put them in
 * chunks of their own, which the workflow sandbox cannot load.
 */
export function webpackConfigHook(config: WebpackConfig): WebpackConfig {
  const parser = config.module?.parser;
  return {
    ...config,
    module: { ...config.module, parser: { ...parser, javascript: { ...parser?.javascript, dynamicImportMode: 'eager' } } },
  };
}

/** Everything a bundler of Shepherd's workflow code passes besides workflowsPath and a logger. */
export const bundleOptions = {
  workflowInterceptorModules,
  preloadModules,
  payloadConverterPath: tolerantPayloadConverterPath,
  webpackConfigHook,
};
