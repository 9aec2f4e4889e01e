import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { checkBind, requireToken } from './auth.js';
import { listen, type Listening } from './listen.js';
import type { DashboardContext } from './context.js';
import { redact } from './redact.js';
import { analysisRoutes } from './routes/analysis.js';
import { conversationRoutes } from './routes/conversations.js';
import { experimentRoutes } from './routes/experiments.js';
import { overviewRoutes } from './routes/overview.js';
import { simulationRoutes } from './routes/simulation.js';
import { trainingRoutes } from './routes/training.js';

// The results dashboard: a Hono app serving one page shell per view (rendered in the browser by
// public/app.js with uPlot, both served from here: no CDN, works offline) and, under /api, the
// JSON each view reads; a view's data lives at '/api' + the view's own path, so every page URL,
// finished runs' included, is stable and shareable.

const require = createRequire(import.meta.url);
const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  'app.js': { file: `${publicDir}app.js`, type: 'text/javascript; charset=utf-8' },
  'style.css': { file: `${publicDir}style.css`, type: 'text/css; charset=utf-8' },
  'uPlot.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const VIEWS = ['overview', 'experiments', 'simulation', 'training', 'conversations', 'analysis'];

function shell(): string {
  const nav = VIEWS.map(
    (v) => `<a href="${v === 'overview' ? '/' : `/${v}`}" data-nav="${v}">${v[0]!.toUpperCase()}${v.slice(1)}</a>`,
  ).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shepherd dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.css"><link rel="stylesheet" href="/assets/style.css">
</head><body>
<header><strong>Shepherd</strong><nav>${nav}</nav><span id="live" class="live"></span></header>
<main id="app"><p class="muted">Loading…</p></main>
<script src="/assets/uPlot.js"></script><script src="/assets/app.js"></script>
</body></html>`;
}

export function createDashboardApp(ctx: DashboardContext, opts: { token?: string } = {}) {
  const page = shell();
  const assets = Object.fromEntries(Object.entries(ASSETS).map(([k, a]) => [k, { body: readFileSync(a.file), type: a.type }]));
  const app = new Hono();
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  app.use(requireToken(opts.token));
  app.use('/api/*', async (c, next) => {
    await next();
    if (c.res.headers.get('content-type')?.startsWith('application/json') && !c.res.headers.get('content-disposition')) {
      const body = redact(await c.res.json());
      c.res = new Response(JSON.stringify(body), { status: c.res.status, headers: c.res.headers });
    }
    c.header('cache-control', 'no-store');
  });
  app.onError((err, c) => c.json({ error: err.message }, 500));

  app.get('/assets/:name', (c) => {
    const a = assets[c.req.param('name')];
    if (!a) return c.notFound();
    return c.body(a.body, 200, { 'content-type': a.type, 'cache-control': 'max-age=300' });
  });
  const api = new Hono()
    .route('/overview', overviewRoutes(ctx))
    .route('/experiments', experimentRoutes(ctx))
    .route('/simulation', simulationRoutes(ctx))
    .route('/training', trainingRoutes(ctx))
    .route('/conversations', conversationRoutes(ctx))
    .route('/analysis', analysisRoutes(ctx))
    .get('/config', (c) => c.json({ controls: ctx.controls, namespace: ctx.namespace, webUi: ctx.uiUrl ?? null }));
  app.route('/api', api);
  app.get('/', (c) => c.html(page));
  for (const v of VIEWS) app.get(`/${v}`, (c) => c.html(page)).get(`/${v}/*`, (c) => c.html(page));
  return app;
}

export type DashboardServer = Listening;

export interface ServeOptions {
  host?: string;
  port?: number;
  token?: string;
}

/** Listens on host:port (127.0.0.1 and a free port by default). */
export async function serveDashboard(ctx: DashboardContext, opts: ServeOptions = {}): Promise<DashboardServer> {
  const host = opts.host ?? '127.0.0.1';
  checkBind(host, opts.token);
  return listen(createDashboardApp(ctx, { token: opts.token }), host, opts.port);
}
