import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';

// Where each analyzer's tool lives. npm tools are the project's own dependencies, resolved from
// this module (never from the analysed app's tree); nmap is Debian's, installed by
// scripts/lib/analyzers.ts. Every lookup either returns a path or says exactly what is missing.

const require = createRequire(import.meta.url);

/** Scripts the dynamic analyzer runs; all ship with Debian's nmap package. */
export const NMAP_SCRIPTS = ['http-headers', 'http-unsafe-output-escaping', 'http-methods'] as const;

function packageDir(name: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

function onPath(program: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface ToolProblem {
  tool: string;
  problem: string;
}

export interface EslintTool {
  bin: string;
  version: string;
  pluginEntry: string;
}

export function findEslint(): EslintTool | ToolProblem {
  const dir = packageDir('eslint');
  if (!dir) return { tool: 'eslint', problem: 'npm package eslint is not installed (npm install)' };
  let pluginEntry: string;
  try {
    pluginEntry = require.resolve('eslint-plugin-security');
  } catch {
    return { tool: 'eslint-plugin-security', problem: 'npm package eslint-plugin-security is not installed (npm install)' };
  }
  const version = (require(path.join(dir, 'package.json')) as { version: string }).version;
  return { bin: path.join(dir, 'bin', 'eslint.js'), version, pluginEntry };
}

export function findAutocannon(): { bin: string; version: string } | ToolProblem {
  const dir = packageDir('autocannon');
  if (!dir) return { tool: 'autocannon', problem: 'npm package autocannon is not installed (npm install)' };
  const version = (require(path.join(dir, 'package.json')) as { version: string }).version;
  return { bin: path.join(dir, 'autocannon.js'), version };
}

export function findNmap(pathEnv?: string): { bin: string; scriptsDir: string } | ToolProblem {
  const bin = onPath('nmap', pathEnv);
  if (!bin) return { tool: 'nmap', problem: 'nmap is not on PATH (Debian package nmap; scripts/lib/analyzers.ts installs it)' };
  const scriptsDir = path.resolve(path.dirname(bin), '..', 'share', 'nmap', 'scripts');
  const missing = NMAP_SCRIPTS.filter((s) => !existsSync(path.join(scriptsDir, `${s}.nse`)));
  if (missing.length > 0) {
    return { tool: 'nmap', problem: `nmap NSE scripts missing from ${scriptsDir}: ${missing.join(', ')}` };
  }
  return { bin, scriptsDir };
}

export function isProblem(x: object): x is ToolProblem {
  return 'problem' in x;
}

/** The tool, or a non-retryable AnalyzerToolMissing failure naming it. */
export function requireTool<T extends object>(found: T | ToolProblem): T {
  if (isProblem(found)) throw ApplicationFailure.nonRetryable(`${found.tool}: ${found.problem}`, 'AnalyzerToolMissing');
  return found;
}
