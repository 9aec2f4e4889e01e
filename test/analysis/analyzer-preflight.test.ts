import { describe, expect, it } from 'vitest';
import { preflight } from '../../src/activities/analysis/preflight.js';
import { findNmap } from '../../src/activities/analysis/tools.js';

// preflightAnalysis says exactly which tool is missing, before any target starts.

describe('preflightAnalysis', () => {
  it('passes when every analyzer tool is installed and a model is configured', async () => {
    const registry = {
      models: {
        'reviewer:7b': { provider: 'ollama' as const, baseUrl: 'http://127.0.0.1:9', maxConcurrency: 1, jsonMode: 'schema' as const },
      },
    };
    const r = await preflight({ analyzers: ['static', 'dynamic', 'performance', 'ai-review'], needsRuntime: false }, { registry });
    expect(r).toEqual({ ok: true, problems: [] });
  });

  it('names nmap when it is not on PATH, and ai-review without any model', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(findNmap()).toMatchObject({ tool: 'nmap' });
      const r = await preflight({ analyzers: ['dynamic', 'ai-review', 'static'], needsRuntime: false }, { registry: { models: {} } });
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual([
        expect.stringMatching(/^dynamic: nmap: nmap is not on PATH/),
        expect.stringMatching(/^ai-review: no model chosen .*no models/),
      ]);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('names the container runtime when it does not answer', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      const r = await preflight({ analyzers: ['static'], needsRuntime: true });
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual([
        expect.stringContaining('container runtime: container runtime not reachable at unix:///nonexistent/docker.sock'),
      ]);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
