import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ExperimentOutcome } from '../shared/experiments/schemas.js';
import type { ActivityDeps } from './deps.js';
import { formatSummaryTable, truncate } from '../shared/summary-table.js';

export { formatSummaryTable, type TableOptions } from '../shared/summary-table.js';

// Slack-compatible incoming webhooks (also accepted by Mattermost, Rocket.Chat, and Discord's
// /slack endpoint). The URL is a secret: it comes from the environment via deps and never appears
// in errors or logs.

export interface NotifyInput {
  /** Plain text; also the fallback shown in notifications. */
  text: string;
  title?: string;
  /** Slack Block Kit blocks; when given they are sent as they are. */
  blocks?: unknown[];
  /** Rendered with formatSummaryTable into a code block (workflows cannot import the formatter). */
  table?: { rows: Record<string, unknown>[]; columns?: string[] };
}

export interface NotifyResult {
  sent: boolean;
  reason?: string;
  status?: number;
}

export interface BatchSummaryInput {
  batchId: string;
  status: string;
  succeeded: number;
  failed: number;
  experiments: ExperimentOutcome[];
}

export interface NotifyOptions {
  /** Per-request timeout; the activity's own retry policy decides how often to try again. */
  timeoutMs?: number;
}

export const WEBHOOK_UNSET_REASON = 'SHEPHERD_WEBHOOK_URL not set';
/** Slack rejects section text above 3000 characters. */
const SECTION_LIMIT = 3000;

export function createNotifyActivities(deps: ActivityDeps, opts: NotifyOptions = {}) {
  const timeoutMs = opts.timeoutMs ?? 10_000;

  async function notifyWebhook(input: NotifyInput): Promise<NotifyResult> {
    if (!input || typeof input.text !== 'string') {
      throw ApplicationFailure.nonRetryable('text: must be a string', 'InvalidInput');
    }
    if (!deps.webhookUrl) return { sent: false, reason: WEBHOOK_UNSET_REASON };
    const payload = { text: input.text, blocks: input.blocks ?? buildBlocks(input) };
    const status = await post(deps.webhookUrl, payload, timeoutMs);
    deps.logger.info({ status }, 'webhook notification sent');
    return { sent: true, status };
  }

  return {
    notifyWebhook,

    /** One message per batch: headline counts and a table of every experiment. */
    async notifyBatchSummary(summary: BatchSummaryInput): Promise<NotifyResult> {
      const rows = summary.experiments.map((e) => ({
        experiment: e.name,
        status: e.status,
        accuracy: e.metrics?.accuracy,
        f1: e.metrics?.f1,
        attempts: e.attempts,
        seconds: e.durationMs === undefined ? undefined : e.durationMs / 1000,
        error: e.error,
      }));
      return notifyWebhook({
        title: `Batch ${summary.batchId}: ${summary.status}`,
        text: `Batch ${summary.batchId} ${summary.status}: ${summary.succeeded} succeeded, ${summary.failed} failed of ${summary.experiments.length}`,
        table: { rows },
      });
    },
  };
}

async function post(url: string, payload: unknown, timeoutMs: number): Promise<number> {
  const cancel = currentCancellationSignal();
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: cancel ? AbortSignal.any([cancel, timeout]) : timeout,
    });
  } catch (err) {
    if (cancel?.aborted) throw cancel.reason; // the activity was cancelled: report it as such
    if (timeout.aborted) {
      throw ApplicationFailure.retryable(`webhook did not answer within ${timeoutMs} ms`, 'WebhookTimeout');
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (!cause && err instanceof TypeError) {
      // fetch refused to build the request (e.g. credentials in the URL): the same every time.
      throw ApplicationFailure.nonRetryable(`SHEPHERD_WEBHOOK_URL cannot be used: ${scrubUrls(err.message)}`, 'WebhookMisconfigured');
    }
    throw ApplicationFailure.retryable(
      `webhook unreachable: ${scrubUrls(cause?.code ?? cause?.message ?? (err as Error).message)}`,
      'WebhookUnreachable',
    );
  }
  if (res.ok) {
    await res.body?.cancel();
    return res.status;
  }
  const body = scrubUrls((await res.text().catch(() => '')).slice(0, 200));
  const message = `webhook answered HTTP ${res.status}${body ? `: ${body}` : ''}`;
  // 408, 429 and 5xx are the receiver's trouble and pass; any other 4xx (bad URL, revoked hook,
  // invalid payload) answers the same way every time.
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    throw ApplicationFailure.create({
      message,
      type: 'WebhookUnavailable',
      nextRetryDelay: retryAfterMs(res.headers.get('retry-after')),
    });
  }
  throw ApplicationFailure.nonRetryable(message, 'WebhookRejected');
}

/** The webhook URL is a secret (its path or credentials are the key): no URL goes into an error. */
function scrubUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<webhook URL>');
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 300) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(date - Date.now(), 0), 300_000);
}

function currentCancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // called outside an activity (CLI, tests)
  }
}

function buildBlocks(input: NotifyInput): unknown[] {
  const blocks: unknown[] = [];
  if (input.title) blocks.push({ type: 'header', text: { type: 'plain_text', text: truncate(input.title, 150) } });
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(input.text, SECTION_LIMIT) } });
  if (input.table && input.table.rows.length > 0) {
    const table = formatSummaryTable(input.table.rows, {
      columns: input.table.columns,
      maxChars: SECTION_LIMIT - 8, // room for the ``` fences
    });
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: '```\n' + table + '\n```' } });
  }
  return blocks;
}
