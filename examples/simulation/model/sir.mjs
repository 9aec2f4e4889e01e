#!/usr/bin/env node
// Stochastic SIR epidemic (chain-binomial, daily steps). Dependency-free on purpose.
//
// As a program: reads its parameters from SHEPHERD_PARAMS (JSON) and its seed from SHEPHERD_SEED,
// writes the result as JSON to $SHEPHERD_RESULT_FILE (never stdout, which is free for logs).
// As a module: `simulate(params, { seed })` returns the same result, for in-process replicates.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** mulberry32: small, fast, good enough for Monte Carlo, and reproducible from a 32-bit seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Binomial(n, p) by geometric waiting times: exact, and O(n·min(p, 1-p)) draws. */
export function binomial(n, p, random) {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(n, 1 - p, random);
  const logQ = Math.log1p(-p);
  let successes = 0;
  let position = 0;
  for (;;) {
    position += Math.floor(Math.log(1 - random()) / logQ) + 1;
    if (position > n) return successes;
    successes++;
  }
}

const DEFAULTS = { beta: 0.3, gamma: 0.1, population: 1000, initialInfected: 5, days: 365 };

export function simulate(params = {}, { seed = 1 } = {}) {
  const { beta, gamma, population, initialInfected, days } = { ...DEFAULTS, ...params };
  for (const [name, v] of Object.entries({ beta, gamma, population, initialInfected, days })) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`parameter ${name} must be a non-negative number, got ${v}`);
  }
  if (initialInfected > population) throw new Error('parameter initialInfected must not exceed population');
  const random = rng(seed);
  let s = population - initialInfected;
  let i = initialInfected;
  let peakInfected = i;
  let peakDay = 0;
  let day = 0;
  const pRecover = 1 - Math.exp(-gamma);
  while (i > 0 && day < days) {
    const pInfect = 1 - Math.exp((-beta * i) / population);
    const infections = binomial(s, pInfect, random);
    const recoveries = binomial(i, pRecover, random);
    s -= infections;
    i += infections - recoveries;
    day++;
    if (i > peakInfected) {
      peakInfected = i;
      peakDay = day;
    }
  }
  const attackRate = (population - s) / population;
  return {
    r0: gamma > 0 ? beta / gamma : null,
    peakInfected,
    peakDay,
    attackRate,
    durationDays: day,
    // A "major outbreak" reaches a tenth of the population; below R0 = 1 almost none do.
    majorOutbreak: attackRate >= 0.1 ? 1 : 0,
  };
}

function main(argv) {
  if (argv.includes('--probe')) {
    // The environment probe: the model loads and runs end to end in this runtime.
    const out = simulate({ population: 100, days: 10 }, { seed: 1 });
    if (typeof out.attackRate !== 'number') throw new Error('probe: simulation returned no attackRate');
    process.stderr.write(`sir probe ok on node ${process.version}\n`);
    return;
  }
  const params = JSON.parse(process.env.SHEPHERD_PARAMS ?? '{}');
  const seed = Number(process.env.SHEPHERD_SEED ?? '1');
  const result = simulate(params, { seed });
  const target = process.env.SHEPHERD_RESULT_FILE;
  if (!target) throw new Error('SHEPHERD_RESULT_FILE is not set; run me through Shepherd or set it');
  writeFileSync(target, JSON.stringify(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`sir: ${err instanceof Error ? err.message : String(err)}\n`);
    // 2 = bad parameters: retrying will not help.
    process.exit(2);
  }
}
