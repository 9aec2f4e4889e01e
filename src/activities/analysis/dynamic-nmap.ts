import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import type { AppAddress } from '../../shared/containers.js';
import type { AnalyzerResult } from './analyzer-result.js';
import type { Finding, Severity } from './findings.js';
import { runTool, type AnalyzerEnv } from './step.js';
import { findNmap, NMAP_SCRIPTS, requireTool } from './tools.js';

// Dynamic analysis: nmap's HTTP scripts against the running app, at the address the container
// runtime published (never a guessed localhost port). A scan that reached nothing — port not
// open, no HTTP answer, or the app gone by the end of the scan — is `failed` with that reason:
// the seed marked such scans "completed" and missed every vulnerability.

export interface DynamicConfig {
  /** Path the liveness probe asks after the scan; default '/'. */
  probePath?: string;
  /** Pages nmap's spider visits looking for reflected parameters; default 20. */
  maxPages?: number;
}

/** Headers whose absence is reported, and how much it matters. */
const EXPECTED_HEADERS: Array<{ name: string; severity: Severity; why: string }> = [
  { name: 'content-security-policy', severity: 'medium', why: 'no Content-Security-Policy: injected scripts run unrestricted' },
  { name: 'x-content-type-options', severity: 'low', why: 'no X-Content-Type-Options: nosniff: browsers may MIME-sniff responses' },
  { name: 'x-frame-options', severity: 'medium', why: 'no X-Frame-Options (nor CSP frame-ancestors): pages can be framed (clickjacking)' },
  { name: 'referrer-policy', severity: 'low', why: 'no Referrer-Policy: full URLs leak to other sites' },
];
const DISCLOSING_HEADERS = ['x-powered-by', 'server'];

interface NmapScript {
  id: string;
  output: string;
}

interface NmapPort {
  state: string;
  reason: string;
  scripts: NmapScript[];
}

const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** The scanned port's state and script outputs from nmap's -oX report, or undefined when nmap saw no host. */
export function parseNmapXml(xml: string): NmapPort | undefined {
  // htmlEntities is deprecated for entityDecoder, whose options 5.12 leaves undocumented; the
  // dynamic analyzer's tests prove numeric entities in nmap's XML still decode.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', htmlEntities: true }).parse(xml) as {
    nmaprun?: { host?: { ports?: { port?: unknown } } | unknown[] };
  };
  const host = asArray(doc.nmaprun?.host as { ports?: { port?: unknown } } | undefined)[0];
  const port = asArray(host?.ports?.port as Record<string, unknown> | Record<string, unknown>[] | undefined)[0];
  if (!port) return undefined;
  const state = port.state as { state?: string; reason?: string } | undefined;
  const scripts = asArray(port.script as Array<{ id: string; output: string }> | undefined).map((s) => ({
    id: String(s.id),
    output: String(s.output ?? ''),
  }));
  return { state: state?.state ?? 'unknown', reason: state?.reason ?? 'unknown', scripts };
}

/** "  Name: value" lines of http-headers' output; undefined when the script got no answer. */
export function parseHeaderLines(output: string): Map<string, string> | undefined {
  const headers = new Map<string, string>();
  for (const line of output.split('\n')) {
    const m = /^\s*([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) headers.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return headers.size > 0 ? headers : undefined;
}

export function headerFindings(headers: Map<string, string>): Finding[] {
  const findings: Finding[] = [];
  const csp = headers.get('content-security-policy') ?? '';
  for (const h of EXPECTED_HEADERS) {
    if (headers.has(h.name)) continue;
    if (h.name === 'x-frame-options' && /frame-ancestors/i.test(csp)) continue;
    findings.push({ rule: `missing-security-header/${h.name}`, severity: h.severity, location: '/', message: h.why });
  }
  for (const name of DISCLOSING_HEADERS) {
    const value = headers.get(name);
    if (value)
      findings.push({
        rule: `header-discloses-software/${name}`,
        severity: 'low',
        location: '/',
        message: `${name}: ${value} tells attackers what runs the app`,
      });
  }
  return findings;
}

/** http-unsafe-output-escaping: "Characters [> " '] reflected in parameter q at http://h:p/search?q=milk". */
export function reflectionFindings(output: string): Finding[] {
  const findings: Finding[] = [];
  for (const m of output.matchAll(/Characters \[([^\]]*)\] reflected in parameter (\S+) at (\S+)/g)) {
    let where: string;
    try {
      where = new URL(m[3]!).pathname;
    } catch {
      where = m[3]!;
    }
    findings.push({
      rule: 'reflected-unescaped-parameter',
      severity: 'high',
      location: `${where}?${m[2]}`,
      message: `parameter ${m[2]} is echoed into the page without escaping the characters ${m[1]} (reflected XSS)`,
    });
  }
  return findings;
}

export function methodFindings(output: string): Finding[] {
  const m = /Potentially risky methods:\s*(.+)/.exec(output);
  return m ? [{ rule: 'risky-http-methods', severity: 'low', location: '/', message: `the server accepts ${m[1]!.trim()}` }] : [];
}

async function probe(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? (err as Error).message;
  }
}

export async function runDynamicAnalyzer(env: AnalyzerEnv, address: AppAddress, config: DynamicConfig): Promise<AnalyzerResult> {
  const nmap = requireTool(findNmap());
  const { host, port } = address.host;
  const target = `${host}:${port}`;
  const tool = { name: 'nmap' };
  const cwd = path.join(env.workspace, 'nmap');
  await runTool(
    env,
    'nmap',
    {
      command: nmap.bin,
      args: [
        // Connect scan: works unprivileged and through the runtime's port forwarder.
        '-sT',
        '-Pn',
        '-n',
        '-p',
        String(port),
        // "+" runs the scripts whatever service nmap guesses for the port.
        '--script',
        NMAP_SCRIPTS.map((s) => `+${s}`).join(','),
        '--script-args',
        `httpspider.maxpagecount=${config.maxPages ?? 20},http.useragent=Shepherd-analyzer`,
        '-oX',
        'nmap.xml',
        host,
      ],
      graceMs: 2000,
      resultRequired: false,
    },
    { cwd },
  );
  const scan = parseNmapXml(await readFile(path.join(cwd, 'nmap.xml'), 'utf8'));
  if (!scan)
    return {
      status: 'failed',
      reason: `nothing scanned: nmap reported no host at ${target}`,
      findings: [],
      metrics: { requestsAnswered: 0 },
      tool,
    };
  if (scan.state !== 'open') {
    return {
      status: 'failed',
      reason: `nothing scanned: ${target} is ${scan.state} (${scan.reason === 'conn-refused' ? 'connection refused' : scan.reason})`,
      findings: [],
      metrics: { requestsAnswered: 0 },
      tool,
    };
  }
  const out = (id: string) => scan.scripts.find((s) => s.id === id)?.output ?? '';
  const headers = parseHeaderLines(out('http-headers'));
  if (!headers) {
    return {
      status: 'failed',
      reason: `nothing scanned: ${target} accepted the connection but answered no HTTP request`,
      findings: [],
      metrics: { requestsAnswered: 0 },
      tool,
    };
  }
  // The spider's pages cannot be told apart from "app died halfway" in nmap's report; a
  // probe after the scan can: a result from an app that stopped answering is incomplete.
  const probeUrl = `http://${target}${config.probePath ?? '/'}`;
  const gone = await probe(probeUrl);
  if (gone) {
    return {
      status: 'failed',
      reason: `app stopped answering during the scan (${probeUrl}: ${gone}); results incomplete`,
      findings: [],
      metrics: { requestsAnswered: 1 },
      tool,
    };
  }
  const findings = [
    ...headerFindings(headers),
    ...reflectionFindings(out('http-unsafe-output-escaping')),
    ...methodFindings(out('http-methods')),
  ];
  return { status: 'completed', findings, metrics: { requestsAnswered: scan.scripts.filter((s) => s.output.trim() !== '').length }, tool };
}
