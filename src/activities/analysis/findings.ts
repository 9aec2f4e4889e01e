import { writeFile } from 'node:fs/promises';

// One finding, whatever tool produced it: the shape every normalizer returns and the database
// stores. The location is stable across runs (a file position, or a URL path without host and
// port, which change from one container to the next), so (rule, location) identifies a finding.

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  rule: string;
  severity: Severity;
  /** "path/to/file.js:12:5" for source findings, "/search?q" for findings on a running app. */
  location: string;
  message: string;
}

const MAX_MESSAGE = 2000;
const MAX_FIELD = 500;

/** Trims over-long fields and keeps the first finding of each (rule, location). */
export function normalizeFindings(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const f of findings) {
    const rule = f.rule.slice(0, MAX_FIELD);
    const location = f.location.slice(0, MAX_FIELD);
    const key = `${rule}\u0000${location}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ rule, severity: f.severity, location, message: f.message.slice(0, MAX_MESSAGE) });
  }
  return out;
}

export function countBySeverity(findings: readonly Finding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return counts;
}

export function isSeverity(s: unknown): s is Severity {
  return typeof s === 'string' && (SEVERITIES as readonly string[]).includes(s);
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};

/** "file.js:12:5" → SARIF physical location; anything else is a logical location (URL path). */
function sarifLocation(location: string) {
  const m = /^(.+?):(\d+)(?::(\d+))?$/.exec(location);
  if (m && !location.startsWith('/')) {
    return {
      physicalLocation: {
        artifactLocation: { uri: m[1] },
        region: { startLine: Number(m[2]), ...(m[3] ? { startColumn: Number(m[3]) } : {}) },
      },
    };
  }
  return { logicalLocations: [{ fullyQualifiedName: location, kind: 'resource' }] };
}

/** The normalized findings as a SARIF 2.1.0 log: the report kept in the workspace. */
export function toSarif(tool: { name: string; version?: string }, findings: readonly Finding[]): object {
  const rules = [...new Set(findings.map((f) => f.rule))].map((id) => ({ id }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: tool.name, ...(tool.version ? { version: tool.version } : {}), rules } },
        results: findings.map((f) => ({
          ruleId: f.rule,
          level: SARIF_LEVEL[f.severity],
          message: { text: f.message },
          locations: [sarifLocation(f.location)],
          properties: { severity: f.severity },
        })),
      },
    ],
  };
}

export async function writeSarif(file: string, tool: { name: string; version?: string }, findings: readonly Finding[]): Promise<string> {
  await writeFile(file, JSON.stringify(toSarif(tool, findings), null, 1));
  return file;
}
