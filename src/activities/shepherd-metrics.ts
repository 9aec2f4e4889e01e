import { Context } from '@temporalio/activity';
import { Runtime } from '@temporalio/worker';
import type { ReapReport } from './step/registry.js';

// Shepherd's worker-level metrics through the SDK runtime's meter, so they share the runtime's
// exporter (Prometheus at SHEPHERD_METRICS_ADDRESS). Step counters live in
// src/workers/step-metrics.ts (an activity interceptor). Meters are created lazily: the runtime
// must be installed (with its exporter) before the first metric is made.

let orphans: ReturnType<Runtime['metricMeter']['createCounter']> | undefined;
let slots: ReturnType<Runtime['metricMeter']['createGauge']> | undefined;

/** Step processes a dead worker left behind and this worker killed at start-up. */
export function recordOrphansReaped(report: ReapReport): void {
  orphans ??= Runtime.instance().metricMeter.createCounter(
    'shepherd_orphans_reaped',
    'processes',
    'leftover step process groups killed at worker start-up',
  );
  orphans.add(report.reaped, { outcome: 'killed' });
  orphans.add(report.stale, { outcome: 'already_gone' });
}

/** Per-model slots this worker holds (leases in PostgreSQL), after every reserve and release. */
export function recordModelSlotsInUse(model: string, held: number): void {
  slots ??= Runtime.instance().metricMeter.createGauge('shepherd_model_slots_in_use', 'int', 'slots', 'model slots held by this worker');
  slots.set(held, { model });
}

/** A training job paused because free disk fell under the floor (called inside the activity). */
export function recordDiskFloorPause(): void {
  Context.current().metricMeter.createCounter('shepherd_disk_floor_pauses', 'pauses', 'training jobs paused at the disk floor').add(1);
}
