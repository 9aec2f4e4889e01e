import { z } from 'zod';

// The dashboard's settings: flags win over env, env over defaults. Validated here so a bad port
// or an unknown control name fails at start with the setting's name.

const schema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8234),
  /** Required when host is not loopback. */
  token: z.string().optional(),
  /** Control actions to enable; only "training" (pause / resume a queue) exists. */
  controls: z.array(z.enum(['training'])).default([]),
  webUi: z.url().optional(),
});

export type DashboardOptions = z.infer<typeof schema>;

export interface DashboardFlags {
  host?: string;
  port?: string | number;
  allowControl?: string[];
  webUi?: string;
}

export function dashboardOptions(flags: DashboardFlags = {}, env: NodeJS.ProcessEnv = process.env): DashboardOptions {
  const set = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  const controls =
    flags.allowControl ??
    set(env.SHEPHERD_DASHBOARD_CONTROLS)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const parsed = schema.safeParse({
    host: flags.host ?? set(env.SHEPHERD_DASHBOARD_HOST),
    port: flags.port ?? set(env.SHEPHERD_DASHBOARD_PORT),
    token: set(env.SHEPHERD_DASHBOARD_TOKEN),
    controls,
    webUi: flags.webUi ?? set(env.SHEPHERD_WEB_UI_URL),
  });
  if (!parsed.success) {
    const names: Record<string, string> = {
      host: '--host / SHEPHERD_DASHBOARD_HOST',
      port: '--port / SHEPHERD_DASHBOARD_PORT',
      token: 'SHEPHERD_DASHBOARD_TOKEN',
      controls: '--allow-control / SHEPHERD_DASHBOARD_CONTROLS',
      webUi: '--web-ui / SHEPHERD_WEB_UI_URL',
    };
    throw new Error(parsed.error.issues.map((i) => `${names[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
