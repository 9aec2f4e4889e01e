import type { Finding } from './findings.js';

/** What one analyzer module hands back to runAnalyzer (which stores it and writes the report). */
export interface AnalyzerResult {
  status: 'completed' | 'failed';
  /** Why it failed: always set when status is 'failed'. */
  reason?: string;
  findings: Finding[];
  metrics?: Record<string, number>;
  tool: { name: string; version?: string };
}
