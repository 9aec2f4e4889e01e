// `npm run build` step after tsc: the files tsc does not emit but the built package runs with
// (SQL migrations, the plain-JS payload converter the SDK loads with require(), dashboard assets,
// the plain-JS step spawner the worker starts with node, the compiled spawner's C source).
import { cpSync } from 'node:fs';

const assets = [
  'db/migrations',
  'shared/payloads/payload-converter.js',
  'shared/payloads/payload-converter.d.ts',
  'dashboard/public',
  'activities/step/spawner/helper.mjs',
  'activities/step/spawner/shepherd-spawn.c',
];
for (const a of assets) cpSync(`src/${a}`, `dist/${a}`, { recursive: true });
