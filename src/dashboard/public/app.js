// Shepherd dashboard pages, rendered in the browser from '/api' + this page's path. Plain
// JavaScript served as is (no build step); charts are uPlot (served by Shepherd, no CDN).
// Running views poll at a bounded rate (POLL_MS) and stop once the run has finished.
'use strict';

const POLL_MS = 2000;
const app = document.getElementById('app');
const liveBadge = document.getElementById('live');
const charts = new Map(); // chart id -> { u, key }
const sortState = {}; // table id -> { key, dir }
let lastData = null;
let timer = null;

// ---------- helpers ----------

const esc = (v) =>
  String(v ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);

/** Numbers as shown everywhere (tests compare against the database with the same rule). */
function fmt(v) {
  if (v === null || v === undefined || v === '') return '–';
  if (typeof v !== 'number') return esc(v);
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toFixed(4)));
}

function duration(sec) {
  if (sec === null || sec === undefined) return '–';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(1))} ${units[i]}`;
}

const time = (iso) => (iso ? esc(new Date(iso).toLocaleString()) : '–');
const ui = (link, label = 'Web UI') => (link ? `<a class="ui" href="${esc(link)}" target="_blank" rel="noopener">${esc(label)}</a>` : '');
const badge = (s) => `<span class="badge s-${esc(String(s).replace(/\s+/g, '-'))}">${esc(s)}</span>`;
const seg = (s) => encodeURIComponent(s);

/**
 * A sortable table. columns: [{ key, label, value(row) (sort + default text), html?(row) }].
 * Every cell carries data-key so tests can read a column by name.
 */
function table(id, columns, rows, empty = 'nothing yet') {
  if (rows.length === 0) return `<p class="muted" data-testid="${esc(id)}-empty">${esc(empty)}</p>`;
  const st = sortState[id];
  const sorted = [...rows];
  if (st) {
    const col = columns.find((c) => c.key === st.key);
    if (col) {
      sorted.sort((a, b) => {
        const x = col.value(a);
        const y = col.value(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * st.dir;
      });
    }
  }
  const head = columns
    .map(
      (c) =>
        `<th data-sort="${esc(c.key)}" data-table="${esc(id)}" class="${st?.key === c.key ? (st.dir > 0 ? 'asc' : 'desc') : ''}">${esc(c.label)}</th>`,
    )
    .join('');
  const body = sorted
    .map((r) => `<tr>${columns.map((c) => `<td data-key="${esc(c.key)}">${c.html ? c.html(r) : fmt(c.value(r))}</td>`).join('')}</tr>`)
    .join('');
  return `<table data-testid="${esc(id)}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

app.addEventListener('click', (e) => {
  const th = e.target.closest('th[data-sort]');
  if (!th) return;
  const id = th.dataset.table;
  const cur = sortState[id];
  sortState[id] = { key: th.dataset.sort, dir: cur?.key === th.dataset.sort ? -cur.dir : 1 };
  render(lastData);
});

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/**
 * A chart placeholder; the spec is drawn after the HTML is in place. spec: { title, x: number[],
 * series: [{ label, values, dash?, color? }], xLabel, yLabel, time?, bands?: [[upperIdx, lowerIdx]], xValues? }
 */
const pendingCharts = [];
function chart(id, spec) {
  pendingCharts.push({ id, spec });
  const points = spec.series.reduce((n, s) => n + s.values.filter((v) => v !== null && v !== undefined).length, 0);
  return `<figure class="chart"><figcaption>${esc(spec.title)}</figcaption><div data-chart="${esc(id)}" data-points="${points}" data-testid="chart-${esc(id)}"></div></figure>`;
}

function drawCharts() {
  const seen = new Set();
  for (const { id, spec } of pendingCharts.splice(0)) {
    seen.add(id);
    const el = app.querySelector(`[data-chart="${CSS.escape(id)}"]`);
    if (!el) continue;
    const data = [spec.x, ...spec.series.map((s) => s.values)];
    const key = JSON.stringify([spec.time ?? false, spec.series.map((s) => s.label), spec.bands ?? null]);
    const existing = charts.get(id);
    if (existing && existing.key === key) {
      el.appendChild(existing.u.root);
      existing.u.setData(data);
      continue;
    }
    existing?.u.destroy();
    const width = spec.width ?? 640;
    const opts = {
      width,
      height: 260,
      scales: { x: { time: spec.time ?? false } },
      series: [
        { label: spec.xLabel ?? 'x', value: spec.xValues ? (u, v) => spec.xValues[v] ?? v : undefined },
        ...spec.series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? PALETTE[i % PALETTE.length],
          dash: s.dash,
          width: 2,
          spanGaps: true,
          points: { show: true, size: 5 },
        })),
      ],
      axes: [
        spec.xValues ? { label: spec.xLabel, values: (u, ticks) => ticks.map((t) => spec.xValues[t] ?? '') } : { label: spec.xLabel },
        { label: spec.yLabel },
      ],
      bands: spec.bands?.map(([a, b]) => ({ series: [a, b], fill: 'rgba(31,119,180,0.12)' })),
    };
    charts.set(id, { u: new uPlot(opts, data, el), key });
  }
  for (const [id, c] of charts) {
    if (!seen.has(id)) {
      c.u.destroy();
      charts.delete(id);
    }
  }
}

/**
 * Hourly buckets of rows ({hour, ...}) over the last 24 hours (missing hours count 0), as chart x
 * plus one series per group.
 */
function hourly(rows, group, count) {
  const now = new Date();
  now.setUTCMinutes(0, 0, 0);
  const x = Array.from({ length: 24 }, (_, i) => now.getTime() / 1000 - (23 - i) * 3600);
  const groups = [...new Set(rows.map(group))].sort();
  const series = groups.map((g) => ({
    label: g,
    values: x.map((t) => rows.filter((r) => Date.parse(r.hour) / 1000 === t && group(r) === g).reduce((n, r) => n + count(r), 0)),
  }));
  return { x: rows.length ? x : [], series };
}

// ---------- views ----------

function overview(d) {
  const kinds = Object.entries(d.counts);
  const states = ['running', 'completed', 'partly failed', 'failed', 'cancelled'];
  const countRows = kinds.map(([kind, c]) => ({ kind, ...c }));
  const tp = hourly(
    d.throughput,
    (r) => r.pipeline,
    (r) => r.count,
  );
  return `
  <h1>Overview</h1>
  <section><h2>Pipelines by kind and state</h2>
  ${table('pipeline-counts', [{ key: 'kind', label: 'kind', value: (r) => r.kind }, ...states.map((s) => ({ key: s, label: s, value: (r) => r[s] }))], countRows, 'no pipelines have run yet')}
  </section>
  <section><h2>Throughput per hour</h2>${tp.x.length ? chart('throughput', { title: 'finished per hour (last 24 h)', time: true, xLabel: 'hour', x: tp.x, series: tp.series, yLabel: 'count' }) : '<p class="muted">nothing finished in the last 24 hours</p>'}</section>
  <section><h2>Running steps: slow or stuck?</h2>
  <p class="muted">Heartbeat age against the step's heartbeat timeout: heartbeats are due every third of it, so a third without one is slow, half is about to be declared stuck (Temporal then retries it). A program that hangs while its worker heartbeats shows under "program": no output for a while, or stalled past its progressTimeout.</p>
  ${table(
    'steps',
    [
      { key: 'workflowId', label: 'workflow', value: (r) => r.workflowId, html: (r) => `${esc(r.workflowId)} ${ui(r.link)}` },
      { key: 'activityType', label: 'step', value: (r) => r.activityType },
      { key: 'attempt', label: 'attempt', value: (r) => r.attempt },
      {
        key: 'heartbeatAge',
        label: 'heartbeat age',
        value: (r) => r.heartbeatAgeMs,
        html: (r) => (r.heartbeatAgeMs === null ? '–' : `${fmt(r.heartbeatAgeMs / 1000)} s`),
      },
      {
        key: 'heartbeatTimeout',
        label: 'heartbeat timeout',
        value: (r) => r.heartbeatTimeoutMs,
        html: (r) => (r.heartbeatTimeoutMs === null ? '–' : `${fmt(r.heartbeatTimeoutMs / 1000)} s`),
      },
      {
        key: 'runningFor',
        label: 'running for',
        value: (r) => r.runningForMs,
        html: (r) => duration(r.runningForMs === null ? null : r.runningForMs / 1000),
      },
      { key: 'verdict', label: 'verdict', value: (r) => r.verdict, html: (r) => badge(r.verdict) },
      {
        key: 'liveness',
        label: 'program',
        value: (r) => r.liveness,
        html: (r) => (r.liveness ? `<span class="warn">${esc(r.liveness)}</span>` : '–'),
      },
      { key: 'lastFailure', label: 'last failure', value: (r) => r.lastFailure },
    ],
    d.steps,
    'no step is running',
  )}
  </section>
  <section><h2>Disk-floor and other pauses</h2>
  ${table(
    'pauses',
    [
      {
        key: 'queue',
        label: 'queue',
        value: (r) => r.queue,
        html: (r) => `<a href="/training?queue=${seg(r.queue)}">${esc(r.queue)}</a> ${ui(r.link)}`,
      },
      { key: 'jobId', label: 'job', value: (r) => r.jobId, html: (r) => `<a href="/training/${seg(r.instance)}">${esc(r.jobId)}</a>` },
      { key: 'reason', label: 'reason', value: (r) => r.reason },
      { key: 'updatedAt', label: 'since', value: (r) => r.updatedAt, html: (r) => time(r.updatedAt) },
    ],
    d.pauses,
    'no training job is paused',
  )}
  </section>
  <section><h2>Recent executions</h2>
  ${table(
    'executions',
    [
      { key: 'type', label: 'kind', value: (r) => r.type },
      {
        key: 'workflowId',
        label: 'workflow',
        value: (r) => r.workflowId,
        html: (r) => (r.page ? `<a href="${esc(r.page)}">${esc(r.workflowId)}</a>` : esc(r.workflowId)),
      },
      { key: 'state', label: 'state', value: (r) => r.state, html: (r) => badge(r.state) },
      { key: 'stage', label: 'stage', value: (r) => r.stage },
      { key: 'startTime', label: 'started', value: (r) => r.startTime, html: (r) => time(r.startTime) },
      { key: 'link', label: 'Temporal', value: (r) => r.link, html: (r) => ui(r.link) },
    ],
    d.executions,
    'no executions',
  )}
  </section>`;
}

function experimentList(d) {
  return `<h1>Experiment batches</h1>
  ${table(
    'batches',
    [
      {
        key: 'batchId',
        label: 'batch',
        value: (r) => r.batchId,
        html: (r) => `<a href="/experiments/${seg(r.batchId)}">${esc(r.batchId)}</a>`,
      },
      { key: 'status', label: 'status', value: (r) => r.status, html: (r) => badge(r.status) },
      { key: 'experiments', label: 'experiments', value: (r) => r.experiments },
      { key: 'failed', label: 'failed', value: (r) => r.failed },
      { key: 'startedAt', label: 'started', value: (r) => r.startedAt, html: (r) => time(r.startedAt) },
      { key: 'link', label: 'Temporal', value: (r) => r.link, html: (r) => ui(r.link) },
    ],
    d.batches,
    'no experiment batch has run yet',
  )}`;
}

function experimentBatch(d) {
  const b = d.batch;
  const metrics = d.metricNames;
  const ok = d.results.filter((r) => r.status === 'succeeded');
  const failed = d.results.filter((r) => r.status !== 'succeeded');
  const batchId = b?.batchId ?? decodeURIComponent(location.pathname.split('/')[2]);
  const metricLinks = metrics
    .map((m) => (m === d.metric ? `<strong>${esc(m)}</strong>` : `<a href="?metric=${seg(m)}">${esc(m)}</a>`))
    .join(' · ');
  // Across batches: x = batch (in order of first finish), one series per experiment.
  const batches = [...new Set(d.history.map((p) => p.batchId))];
  const names = [...new Set(d.history.map((p) => p.experiment))].sort();
  const across = {
    title: `${d.metric} of these experiments in every batch that ran them`,
    x: batches.map((_, i) => i),
    xValues: batches,
    xLabel: 'batch',
    yLabel: d.metric,
    series: names.map((n) => ({
      label: n,
      values: batches.map((bid) => d.history.find((p) => p.batchId === bid && p.experiment === n)?.value ?? null),
    })),
  };
  return `<h1>Batch ${esc(batchId)} ${b ? badge(b.status) : ''} ${ui(b?.link)}</h1>
  <p>${d.results.length} experiments, ${failed.length} failed · download <a href="/api/experiments/${seg(batchId)}/export.csv" data-testid="download-csv">CSV</a> · <a href="/api/experiments/${seg(batchId)}/export.json" data-testid="download-json">JSON</a></p>
  <section><h2>Results</h2>
  ${table(
    'results',
    [
      { key: 'experiment', label: 'experiment', value: (r) => r.experiment, html: (r) => `${esc(r.experiment)} ${ui(r.link, '↗')}` },
      { key: 'status', label: 'status', value: (r) => r.status, html: (r) => badge(r.status) },
      ...metrics.map((m) => ({ key: `m:${m}`, label: m, value: (r) => (typeof r.metrics[m] === 'number' ? r.metrics[m] : null) })),
      { key: 'attempt', label: 'attempt', value: (r) => r.attempt },
      {
        key: 'durationMs',
        label: 'duration (s)',
        value: (r) => r.durationMs,
        html: (r) => fmt(r.durationMs === null ? null : r.durationMs / 1000),
      },
    ],
    d.results,
    'no results yet',
  )}
  </section>
  ${
    d.metric
      ? `<section><h2>Compare</h2><p>metric: ${metricLinks}</p>
    ${chart('by-experiment', { title: `${d.metric} per experiment`, x: ok.map((_, i) => i), xValues: ok.map((r) => r.experiment), xLabel: 'experiment', yLabel: d.metric, series: [{ label: d.metric, values: ok.map((r) => r.metrics[d.metric] ?? null) }] })}
    ${batches.length ? chart('across-batches', across) : ''}</section>`
      : ''
  }
  <section><h2>Failures</h2>
  ${table(
    'failures',
    [
      { key: 'experiment', label: 'experiment', value: (r) => r.experiment },
      { key: 'exitCode', label: 'exit code', value: (r) => r.failure?.exitCode ?? r.exitCode },
      {
        key: 'signal',
        label: 'signal',
        value: (r) => r.failure?.signal ?? null,
        html: (r) => `${esc(r.failure?.signal ?? '–')}${r.failure?.possibleOom ? ' <span class="badge s-failed">possible OOM</span>' : ''}`,
      },
      { key: 'error', label: 'error', value: (r) => r.error },
      {
        key: 'stderr',
        label: 'stderr tail',
        value: (r) => r.failure?.stderrTail ?? null,
        html: (r) => `<pre>${esc(r.failure?.stderrTail ?? '')}</pre>`,
      },
    ],
    failed,
    'no failures',
  )}
  </section>`;
}

function simulationList(d) {
  return `<h1>Simulation jobs</h1>${jobsTable(d.jobs)}`;
}

function jobsTable(jobs) {
  return table(
    'jobs',
    [
      { key: 'jobId', label: 'job', value: (r) => r.jobId, html: (r) => `<a href="/simulation/${seg(r.jobId)}">${esc(r.jobId)}</a>` },
      { key: 'status', label: 'status', value: (r) => r.status, html: (r) => badge(r.status) },
      { key: 'done', label: 'done', value: (r) => r.succeeded + r.failed },
      { key: 'total', label: 'total', value: (r) => r.total },
      { key: 'failed', label: 'failed', value: (r) => r.failed },
      { key: 'rate', label: 'rate (/s)', value: (r) => r.ratePerSecond },
      { key: 'eta', label: 'ETA', value: (r) => r.etaSeconds, html: (r) => (r.status === 'running' ? duration(r.etaSeconds) : '–') },
      { key: 'link', label: 'Temporal', value: (r) => r.link, html: (r) => ui(r.link) },
    ],
    jobs,
    'no simulation job has run yet',
  );
}

function simulationJob(d) {
  const j = d.job;
  const pct = j.total ? Math.round((100 * (j.succeeded + j.failed)) / j.total) : 0;
  // Plot against the first parameter whose values are all numbers (else by parameter set).
  const numeric = d.parameterNames.find((p) => d.aggregates.every((a) => typeof a.parameters[p] === 'number'));
  const rows = [...d.aggregates].sort((a, b) => (numeric ? a.parameters[numeric] - b.parameters[numeric] : 0));
  const x = rows.map((a, i) => (numeric ? a.parameters[numeric] : i));
  const label = (a) =>
    Object.entries(a.parameters)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  const aggCols = d.fields.flatMap((f) => [
    { key: `${f}:mean`, label: `${f} mean`, value: (r) => r.aggregates[f]?.mean ?? null },
    { key: `${f}:std`, label: `${f} std`, value: (r) => r.aggregates[f]?.std ?? null },
  ]);
  const plots = d.fields
    .map((f) => {
      const mean = rows.map((a) => a.aggregates[f]?.mean ?? null);
      const std = rows.map((a) => a.aggregates[f]?.std ?? 0);
      return chart(`agg-${f}`, {
        title: `${f}: mean ± std`,
        x,
        xValues: numeric ? undefined : rows.map(label),
        xLabel: numeric ?? 'parameter set',
        yLabel: f,
        series: [
          { label: 'mean + std', values: mean.map((m, i) => (m === null ? null : m + std[i])), color: '#9ecae1' },
          { label: 'mean', values: mean, color: '#1f77b4' },
          { label: 'mean − std', values: mean.map((m, i) => (m === null ? null : m - std[i])), color: '#9ecae1' },
        ],
        bands: [[1, 3]],
      });
    })
    .join('');
  return `<h1>Simulation ${esc(j.jobId)} ${badge(j.status)} ${ui(j.link)}</h1>
  <p data-testid="sim-progress"><span data-key="done">${j.succeeded + j.failed}</span> / <span data-key="total">${j.total}</span> replicates (${pct}%),
    <span data-key="failed">${j.failed}</span> failed${j.status === 'running' ? `, ${fmt(j.ratePerSecond)}/s, ETA ${duration(j.etaSeconds)}` : ''}</p>
  <progress max="${j.total}" value="${j.succeeded + j.failed}"></progress>
  <section><h2>Aggregates per parameter set</h2>
  ${table(
    'aggregates',
    [
      {
        key: 'parameterKey',
        label: 'parameter set',
        value: (r) => r.parameterKey,
        html: (r) => `${esc(label(r))} <span class="muted">${esc(r.parameterKey)}</span>`,
      },
      ...d.parameterNames.map((p) => ({ key: `p:${p}`, label: p, value: (r) => r.parameters[p] ?? null })),
      { key: 'succeeded', label: 'succeeded', value: (r) => r.succeeded },
      { key: 'failed', label: 'failed', value: (r) => r.failed },
      ...aggCols,
    ],
    d.aggregates,
    'no parameter set has been aggregated yet',
  )}
  ${plots}</section>
  <section><h2>Failed replicates</h2>
  ${table(
    'failed-replicates',
    [
      { key: 'parameterKey', label: 'parameter set', value: (r) => r.parameterKey },
      { key: 'replicate', label: 'replicate', value: (r) => r.replicate },
      { key: 'seed', label: 'seed', value: (r) => r.seed },
      { key: 'attempts', label: 'attempts', value: (r) => r.attempts },
      { key: 'error', label: 'error', value: (r) => r.error, html: (r) => `<pre>${esc(r.error ?? '')}</pre>` },
    ],
    d.failures,
    'no replicate failed',
  )}</section>`;
}

function trainingList(d, _config) {
  const queues = d.queues
    .map((q) => {
      const s = q.status;
      if (!s) return `<section><h2>Queue ${esc(q.queue)}</h2><p class="error">${esc(q.error)}</p></section>`;
      const cur = s.current;
      const p = cur?.progress;
      const controls = d.controls
        ? `<button data-control="${s.paused ? 'resume' : 'pause'}" data-queue="${esc(s.queue)}">${s.paused ? 'Resume' : 'Pause'} queue</button>`
        : '';
      return `<section data-testid="queue-${esc(s.queue)}"><h2>Queue ${esc(s.queue)} ${badge(s.stage)} ${ui(q.link)} ${controls}</h2>
      ${s.paused ? `<p class="warn" data-testid="pause-reason">paused: ${esc(s.pauseReason)}</p>` : ''}
      ${cur ? `<p>current: <a href="/training/${seg(cur.instance)}">${esc(cur.jobId)}</a>${p ? ` step <span data-key="step">${p.step}</span> / ${p.totalSteps}, train loss ${fmt(p.trainLoss)}, val loss ${fmt(p.valLoss)}, ETA ${duration(p.etaSeconds)}` : ''}</p>` : '<p class="muted">no job running</p>'}
      ${table(
        `pending-${s.queue}`,
        [
          { key: 'position', label: '#', value: (r) => r.position },
          { key: 'jobId', label: 'queued job', value: (r) => r.jobId },
          { key: 'steps', label: 'steps', value: (r) => r.steps },
          { key: 'enqueuedAt', label: 'enqueued', value: (r) => r.enqueuedAt, html: (r) => time(r.enqueuedAt) },
        ],
        s.pending.map((p, i) => ({ ...p, position: i + 1 })),
        'nothing queued',
      )}
      <p class="muted">${Object.entries(s.counts)
        .map(([k, v]) => `${esc(k)} ${v}`)
        .join(' · ')}</p></section>`;
    })
    .join('');
  return `<h1>Training</h1><div id="control-message" role="status"></div>${queues || '<p class="muted">no training queue is running</p>'}
  <section><h2>Jobs</h2>
  ${table(
    'training-jobs',
    [
      { key: 'jobId', label: 'job', value: (r) => r.jobId, html: (r) => `<a href="/training/${seg(r.instance)}">${esc(r.jobId)}</a>` },
      { key: 'queue', label: 'queue', value: (r) => r.queue },
      { key: 'status', label: 'status', value: (r) => r.status, html: (r) => badge(r.status) },
      { key: 'valLoss', label: 'val loss', value: (r) => (typeof r.metrics?.valLoss === 'number' ? r.metrics.valLoss : null) },
      { key: 'reason', label: 'reason / error', value: (r) => r.reason ?? r.error },
      { key: 'createdAt', label: 'enqueued', value: (r) => r.createdAt, html: (r) => time(r.createdAt) },
    ],
    d.jobs,
    'no training job yet',
  )}</section>`;
}

function trainingJob(d) {
  const j = d.job;
  const p = d.progress;
  const steps = d.samples.map((s) => s.step);
  const c = d.checkpoints;
  return `<h1>Training job ${esc(j.jobId)} ${badge(j.status)} ${ui(j.link)}</h1>
  <p>queue <a href="/training?queue=${seg(j.queue)}">${esc(j.queue)}</a>${p ? ` · step <span data-key="step">${p.step}</span> / ${p.totalSteps} · ${p.stepsPerSecond === null ? '–' : p.stepsPerSecond.toFixed(1)} steps/s · ETA ${duration(p.etaSeconds)}` : ''}${j.reason ? ` · <span class="warn">${esc(j.reason)}</span>` : ''}${j.error ? ` · <span class="error">${esc(j.error)}</span>` : ''}</p>
  ${chart('loss', {
    title: 'loss',
    x: steps,
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      { label: 'train loss', values: d.samples.map((s) => s.trainLoss) },
      { label: 'val loss', values: d.samples.map((s) => s.valLoss), color: '#d62728' },
    ],
  })}
  <p class="muted" data-testid="sample-count">${d.samples.length} samples</p>
  <section><h2>Checkpoints kept</h2>
  ${c ? `<p>disk use <span data-testid="checkpoint-bytes">${bytes(c.totalBytes)}</span></p>` : '<p class="muted">checkpoint directory not visible from this dashboard</p>'}
  ${table(
    'checkpoints',
    [
      { key: 'step', label: 'step', value: (r) => r.step },
      { key: 'valLoss', label: 'val loss', value: (r) => r.valLoss },
      { key: 'file', label: 'file', value: (r) => r.file },
      { key: 'role', label: 'kept as', value: (r) => r.role },
      { key: 'bytes', label: 'size', value: (r) => r.bytes, html: (r) => bytes(r.bytes) },
    ],
    c?.kept ?? [],
    'no checkpoint kept',
  )}</section>
  ${
    j.metrics
      ? `<section><h2>Final metrics</h2>${table(
          'final-metrics',
          [
            { key: 'name', label: 'metric', value: (r) => r.name },
            { key: 'value', label: 'value', value: (r) => r.value },
          ],
          Object.entries(j.metrics)
            .filter(([, v]) => typeof v !== 'object')
            .map(([name, value]) => ({ name, value })),
        )}</section>`
      : ''
  }`;
}

function conversationList(d) {
  const tp = hourly(
    d.throughput,
    (r) => r.definition,
    (r) => r.count,
  );
  return `<h1>Conversations</h1>
  ${tp.x.length ? chart('conv-throughput', { title: 'step attempts per hour', time: true, xLabel: 'hour', x: tp.x, series: tp.series, yLabel: 'attempts' }) : ''}
  ${table(
    'definitions',
    [
      {
        key: 'definition',
        label: 'definition',
        value: (r) => r.definition,
        html: (r) => `<a href="/conversations/${seg(r.definition)}">${esc(r.definition)}</a>`,
      },
      { key: 'attempts', label: 'attempts', value: (r) => r.attempts },
      { key: 'lastHour', label: 'last active hour', value: (r) => r.lastHour, html: (r) => time(r.lastHour) },
    ],
    d.definitions,
    'no conversation has run in the last 30 days',
  )}`;
}

function conversationDefinition(d) {
  const tp = hourly(
    d.throughput,
    () => 'attempts',
    (r) => r.count,
  );
  const pairs = [...new Set(d.latency.map((l) => `${l.step}\u0000${l.actor}`))].slice(0, 12);
  const latencyCharts = pairs
    .map((key) => {
      const [step, actor] = key.split('\u0000');
      const rows = d.latency.filter((l) => l.step === step && l.actor === actor);
      const { x } = hourly(
        [{ hour: '' }],
        () => '',
        () => 0,
      );
      const at = (t, f) => rows.find((r) => Date.parse(r.bucket) / 1000 === t)?.[f] ?? null;
      return chart(`lat-${step}-${actor}`, {
        title: `${step} · ${actor}`,
        width: 440,
        time: true,
        xLabel: 'hour',
        x,
        yLabel: 'ms',
        series: [
          { label: 'p50', values: x.map((t) => at(t, 'p50Ms')) },
          { label: 'p95', values: x.map((t) => at(t, 'p95Ms')), color: '#ff7f0e' },
          { label: 'p99', values: x.map((t) => at(t, 'p99Ms')), color: '#d62728' },
        ],
      });
    })
    .join('');
  return `<h1>Conversations: ${esc(d.definition)}</h1>
  ${tp.x.length ? chart('def-throughput', { title: 'step attempts per hour', time: true, xLabel: 'hour', x: tp.x, series: tp.series, yLabel: 'attempts' }) : ''}
  <section><h2>Latency per step and model (last 24 hours)</h2>
  ${table(
    'step-metrics',
    [
      { key: 'step', label: 'step', value: (r) => r.step },
      { key: 'actor', label: 'model / actor', value: (r) => r.actor },
      { key: 'attempts', label: 'attempts', value: (r) => r.attempts },
      { key: 'failureRate', label: 'failure rate', value: (r) => r.failureRate },
      { key: 'p50Ms', label: 'p50 ms', value: (r) => r.p50Ms },
      { key: 'p95Ms', label: 'p95 ms', value: (r) => r.p95Ms },
      { key: 'p99Ms', label: 'p99 ms', value: (r) => r.p99Ms },
    ],
    d.metrics,
    'no attempts in the last 24 hours',
  )}
  <div class="grid">${latencyCharts}</div></section>
  <section><h2>Timeouts: configured and recommended (last 7 days, as <code>shepherd conversations recommend</code>)</h2>
  ${
    d.recommendations
      ? table(
          'recommendations',
          [
            { key: 'step', label: 'step', value: (r) => r.step },
            { key: 'configured', label: 'configured', value: (r) => r.configured },
            { key: 'p99Ms', label: 'p99 ms', value: (r) => r.p99Ms },
            { key: 'recommended', label: 'recommended', value: (r) => r.recommended },
            { key: 'samples', label: 'samples', value: (r) => r.samples },
            { key: 'verdict', label: 'verdict', value: (r) => r.verdict, html: (r) => badge(r.verdict) },
          ],
          d.recommendations,
        )
      : `<p class="muted">${esc(d.recommendationError ?? 'unavailable')}</p>`
  }</section>
  <section><h2>Failures by type</h2>
  ${table(
    'conv-failures',
    [
      { key: 'errorType', label: 'type', value: (r) => r.errorType },
      { key: 'step', label: 'step', value: (r) => r.step },
      { key: 'count', label: 'count', value: (r) => r.count },
      { key: 'lastAt', label: 'last', value: (r) => r.lastAt, html: (r) => time(r.lastAt) },
      { key: 'lastError', label: 'example error', value: (r) => r.lastError },
    ],
    d.failures,
    'no failures in the last 7 days',
  )}</section>
  <section><h2>Items</h2>
  ${table(
    'items',
    [
      {
        key: 'itemKey',
        label: 'item',
        value: (r) => r.itemKey,
        html: (r) => `<a href="/conversations/${seg(d.definition)}/items/${seg(r.itemKey)}">${esc(r.itemKey)}</a>`,
      },
      { key: 'lastStatus', label: 'last step', value: (r) => r.lastStatus, html: (r) => badge(r.lastStatus) },
      { key: 'lastAt', label: 'at', value: (r) => r.lastAt, html: (r) => time(r.lastAt) },
    ],
    d.items,
  )}</section>`;
}

function conversationItem(d) {
  return `<h1>Audit log: ${esc(d.definition)} / ${esc(d.item)}</h1>
  ${table(
    'audit',
    [
      { key: 'finishedAt', label: 'finished', value: (r) => r.finishedAt, html: (r) => time(r.finishedAt) },
      { key: 'step', label: 'step', value: (r) => r.step },
      { key: 'attempt', label: 'attempt', value: (r) => r.attempt },
      { key: 'actor', label: 'actor', value: (r) => r.actor, html: (r) => `${esc(r.actorKind)}: ${esc(r.actor)}` },
      { key: 'status', label: 'status', value: (r) => r.status, html: (r) => badge(r.status) },
      { key: 'latencyMs', label: 'latency ms', value: (r) => r.latencyMs },
      {
        key: 'error',
        label: 'error',
        value: (r) => r.error,
        html: (r) => (r.error ? `<pre>${esc(r.errorType ?? '')}: ${esc(r.error)}</pre>` : ''),
      },
      { key: 'link', label: 'run', value: (r) => r.runId, html: (r) => ui(r.link) },
    ],
    d.entries,
    'no attempts recorded for this item',
  )}`;
}

function analysis(d) {
  if (!d.available)
    return '<h1>Analysis findings</h1><p class="muted" data-testid="analysis-unavailable">The analysis pipeline has no tables in this database yet.</p>';
  return `<h1>Analysis findings</h1>
  ${table(
    'findings',
    [
      { key: 'target', label: 'target', value: (r) => `${r.pipelineId}/${r.model}/${r.app}` },
      { key: 'targetStatus', label: 'target status', value: (r) => r.targetStatus },
      { key: 'analyzer', label: 'analyzer', value: (r) => r.analyzer },
      { key: 'severity', label: 'severity', value: (r) => r.severity },
      { key: 'count', label: 'findings', value: (r) => r.count },
    ],
    d.findings,
    'no findings',
  )}`;
}

// ---------- routing, polling, control ----------

function viewFor(path) {
  const p = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (p.length === 0) return overview;
  if (p[0] === 'experiments') return p[1] ? experimentBatch : experimentList;
  if (p[0] === 'simulation') return p[1] ? simulationJob : simulationList;
  if (p[0] === 'training') return p[1] ? trainingJob : trainingList;
  if (p[0] === 'conversations') return p[2] === 'items' ? conversationItem : p[1] ? conversationDefinition : conversationList;
  if (p[0] === 'analysis') return analysis;
  return null;
}

function render(d) {
  if (!d) return;
  const view = viewFor(location.pathname);
  app.innerHTML = view ? view(d) : '<p class="error">no such page</p>';
  drawCharts();
}

async function refresh() {
  clearTimeout(timer);
  const res = await fetch(`/api${location.pathname === '/' ? '/overview' : location.pathname}${location.search}`, {
    headers: { accept: 'application/json' },
  });
  const d = await res.json();
  if (!res.ok) {
    app.innerHTML = `<p class="error" data-testid="error">${esc(d.error ?? res.statusText)}</p>`;
    return;
  }
  lastData = d;
  render(d);
  liveBadge.textContent = d.live ? `live · updated ${new Date().toLocaleTimeString()}` : 'finished: this page no longer changes';
  liveBadge.dataset.live = String(Boolean(d.live));
  if (d.live) timer = setTimeout(() => refresh().catch(showError), POLL_MS);
}

function showError(err) {
  liveBadge.textContent = `update failed: ${err.message}; retrying`;
  timer = setTimeout(() => refresh().catch(showError), POLL_MS * 3);
}

app.addEventListener('click', async (e) => {
  const btn = e.target.closest('button[data-control]');
  if (!btn) return;
  btn.disabled = true;
  const res = await fetch(`/api/training/queues/${seg(btn.dataset.queue)}/${btn.dataset.control}`, {
    method: 'POST',
    headers: { 'x-shepherd-control': '1' },
  });
  const body = await res.json();
  await refresh().catch(showError);
  const msg = document.getElementById('control-message');
  if (msg) msg.textContent = res.ok ? `${btn.dataset.control}: done` : `refused: ${body.error}`;
});

for (const a of document.querySelectorAll('header nav a')) {
  const v = a.dataset.nav;
  if ((v === 'overview' && location.pathname === '/') || (v !== 'overview' && location.pathname.startsWith(`/${v}`)))
    a.classList.add('current');
}

refresh().catch(showError);
