import http from 'node:http';

// Health is polled by Shepherd over the published port: podman's HEALTHCHECK needs systemd
// timers, and an HTTP answer on the very address analyzers will use is the proof that matters
// (a wrong port answers nothing, or resets, and is never "healthy").

export interface HealthProbe {
  healthy: boolean;
  /** "HTTP 200", "HTTP 404", "ECONNRESET", "timed out after 2000 ms", ... */
  detail: string;
}

export function probeHttp(host: string, port: number, pathname: string, timeoutMs = 2000): Promise<HealthProbe> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: pathname, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ healthy: code >= 200 && code < 400, detail: `HTTP ${code}` });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ healthy: false, detail: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ healthy: false, detail: err.code ?? err.message }));
  });
}
