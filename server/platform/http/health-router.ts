import { Router } from 'express';

export type HealthCheck = () => Promise<unknown>;

/**
 * Liveness says the process answers; readiness says it can do its work: every dependency
 * answered within the timeout. A load balancer should route by readiness.
 */
export function createHealthRouter(deps: { checks: Record<string, HealthCheck>; nodeId: string; timeoutMs?: number }): Router {
  const router = Router();
  const timeoutMs = deps.timeoutMs ?? 2000;

  router.get('/live', (_req, res) => {
    res.json({ ok: true, data: { status: 'live', node_id: deps.nodeId, uptime_s: Math.round(process.uptime()) } });
  });

  router.get('/ready', async (_req, res) => {
    const entries = await Promise.all(
      Object.entries(deps.checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const),
    );
    const checks = Object.fromEntries(entries);
    const ready = entries.every(([, r]) => r.ok);
    res.status(ready ? 200 : 503).json({ ok: ready, data: { status: ready ? 'ready' : 'not_ready', node_id: deps.nodeId, checks } });
  });

  return router;
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<{ ok: boolean; detail?: unknown; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return detail === undefined ? { ok: true } : { ok: true, detail };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
