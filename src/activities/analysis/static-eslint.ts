import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import type { AnalyzerResult } from './analyzer-result.js';
import type { Finding, Severity } from './findings.js';
import { runTool, type AnalyzerEnv } from './step.js';
import { findEslint, requireTool } from './tools.js';

// Static analysis: ESLint with eslint-plugin-security over a COPY of the app's source in the
// workspace, with a config Shepherd writes there (the app's own ESLint config, plugins or
// node_modules are never loaded: analysed code must not choose what runs on the worker).

/** Rules whose hits are exploitable as written; everything else from the plugin is a smell. */
const SEVERITY_BY_RULE: Record<string, Severity> = {
  'no-eval': 'high',
  'no-implied-eval': 'high',
  'no-new-func': 'high',
  'security/detect-eval-with-expression': 'high',
  'security/detect-child-process': 'high',
  'security/detect-non-literal-require': 'high',
  'security/detect-non-literal-fs-filename': 'medium',
  'security/detect-non-literal-regexp': 'medium',
  'security/detect-unsafe-regex': 'medium',
  'security/detect-pseudoRandomBytes': 'medium',
  'security/detect-disable-mustache-escape': 'medium',
  'security/detect-no-csrf-before-method-override': 'medium',
  'security/detect-buffer-noassert': 'medium',
  'security/detect-new-buffer': 'medium',
  'security/detect-bidi-characters': 'medium',
  'security/detect-object-injection': 'low',
  'security/detect-possible-timing-attacks': 'low',
};

export const SOURCE_DIR = 'src';
const CONFIG_FILE = 'eslint.config.mjs';
const OUTPUT_FILE = 'eslint.json';

/** ESLint's flat config, with the plugin imported by absolute URL (the workspace has no node_modules). */
export function eslintConfig(pluginEntry: string, jsSourceType: 'module' | 'commonjs'): string {
  return `import security from ${JSON.stringify(pathToFileURL(pluginEntry).href)};
export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/*.min.js'] },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs', '**/*.jsx'],
    languageOptions: { ecmaVersion: 'latest', sourceType: ${JSON.stringify(jsSourceType)}, parserOptions: { ecmaFeatures: { jsx: true } } },
    linterOptions: { reportUnusedDisableDirectives: 'off', noInlineConfig: true },
    plugins: { security },
    rules: { ...security.configs.recommended.rules, 'no-eval': 'error', 'no-implied-eval': 'error', 'no-new-func': 'error' },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
];
`;
}

/** .js files are ES modules when the app's package.json says "type": "module". */
async function jsSourceType(sourceDir: string): Promise<'module' | 'commonjs'> {
  try {
    const pkg = JSON.parse(await readFile(path.join(sourceDir, 'package.json'), 'utf8')) as { type?: string };
    return pkg.type === 'module' ? 'module' : 'commonjs';
  } catch {
    return 'commonjs';
  }
}

interface EslintFileResult {
  filePath: string;
  messages: Array<{ ruleId: string | null; severity: 1 | 2; message: string; line?: number; column?: number; fatal?: boolean }>;
}

export function normalizeEslint(results: EslintFileResult[], root: string): Finding[] {
  const findings: Finding[] = [];
  for (const file of results) {
    const rel = path.relative(root, file.filePath).split(path.sep).join('/');
    for (const m of file.messages) {
      const rule = m.ruleId ?? (m.fatal ? 'eslint/parse-error' : 'eslint/unknown');
      const severity = SEVERITY_BY_RULE[rule] ?? (m.fatal ? 'low' : m.severity === 2 ? 'medium' : 'low');
      findings.push({ rule, severity, location: `${rel}:${m.line ?? 0}:${m.column ?? 0}`, message: m.message });
    }
  }
  return findings;
}

async function countSourceFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(c|m)?jsx?$/.test(entry.name) && !(entry.parentPath ?? '').includes(`${path.sep}node_modules`)) n++;
  }
  return n;
}

/** Expects the app's source already copied to `<workspace>/src`. */
export async function runStaticAnalyzer(env: AnalyzerEnv, originalSourceDir: string): Promise<AnalyzerResult> {
  const eslint = requireTool(findEslint());
  const root = path.join(env.workspace, SOURCE_DIR);
  const files = await countSourceFiles(root);
  const tool = { name: 'eslint+eslint-plugin-security', version: eslint.version };
  if (files === 0) {
    throw ApplicationFailure.nonRetryable(
      `target.sourceDir: ${originalSourceDir} holds no JavaScript files (.js, .cjs, .mjs, .jsx) to analyse`,
      'InvalidAnalyzerInput',
    );
  }
  await writeFile(path.join(env.workspace, CONFIG_FILE), eslintConfig(eslint.pluginEntry, await jsSourceType(root)));
  await runTool(
    env,
    'eslint',
    {
      command: process.execPath,
      args: [
        eslint.bin,
        '--config',
        CONFIG_FILE,
        '--format',
        'json',
        '--output-file',
        OUTPUT_FILE,
        '--no-warn-ignored',
        '--no-error-on-unmatched-pattern',
        SOURCE_DIR,
      ],
      graceMs: 2000,
      resultRequired: false,
    },
    // 0: clean, 1: problems found; 2 is a crash or a bad config (classified as CommandFailed).
    { cwd: env.workspace, okExitCodes: [0, 1] },
  );
  const results = JSON.parse(await readFile(path.join(env.workspace, OUTPUT_FILE), 'utf8')) as EslintFileResult[];
  return { status: 'completed', findings: normalizeEslint(results, root), metrics: { filesAnalysed: results.length }, tool };
}
