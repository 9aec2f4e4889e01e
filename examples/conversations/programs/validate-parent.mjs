#!/usr/bin/env node
// The WF3005 "validate parent categories" step as a script: checks the panel's parent category
// against the registry's naming rules. Reads its input from $SHEPHERD_INPUT_FILE, writes
// {valid, reason} to $SHEPHERD_RESULT_FILE (never stdout, so stray prints cannot corrupt it).
import { readFileSync, writeFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(process.env.SHEPHERD_INPUT_FILE, 'utf8'));
const parent = String(input.parent ?? '').trim();
const problems = [];
if (parent.length < 3) problems.push('parent category is shorter than 3 characters');
if (parent.length > 80) problems.push('parent category is longer than 80 characters');
if (/^(misc|other|general|n\/a|none|unknown)$/i.test(parent)) problems.push(`"${parent}" is a catch-all, not a category`);
if (parent.toLowerCase() === String(input.skill ?? '').trim().toLowerCase()) problems.push('a skill cannot be its own parent');
if (!input.domain) problems.push('no domain');

const result = problems.length === 0
  ? { valid: true, reason: `${input.domain} / ${parent} follows the registry's naming rules` }
  : { valid: false, reason: problems.join('; ') };
writeFileSync(process.env.SHEPHERD_RESULT_FILE, JSON.stringify(result));
