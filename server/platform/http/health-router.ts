import { Router } from 'express';

export type HealthCheck = () => Promise<unknown>;

interface CheckResult {
  ok: boolean;
  detail?: unknown;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** When this round of checks started: the age of what a cached answer says. */
  checkedAt: number;
}

/**
 * Readiness is unauthenticated (and scraped as a metric), so its cost must not grow with how
 * often it is asked: one round of checks runs at a time, every caller arriving meanwhile gets
 * that round's answer, and the answer is reused until it is `cacheMs` old (0: a new round once
 * the last is done). Each check is bounded by `timeoutMs`. The checks themselves should use
 * connections of their own (`Db.probe`), not the request pool.
 */
export function createReadiness(deps: { checks: Record<string, HealthCheck>; timeoutMs?: number; cacheMs?: number }): () => Promise<Readiness> {
  const timeoutMs = deps.timeoutMs ?? 2000;
  const cacheMs = deps.cacheMs ?? 0;
  let last: Readiness | undefined;
  let inFlight: Promise<Readiness> | undefined;
  return () => {
    if (last && Date.now() - last.checkedAt < cacheMs) return Promise.resolve(last);
    inFlight ??= runChecks(deps.checks, timeoutMs)
      .then((result) => (last = result))
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/**
 * Liveness says the process answers; readiness says it can do its work: every dependency
 * answered within the timeout. A load balancer should route by readiness.
 */
export function createHealthRouter(deps: { readiness: () => Promise<Readiness>; nodeId: string }): Router {
  const router = Router();

  router.get('/live', (_req, res) => {
    res.json({ ok: true, data: { status: 'live', node_id: deps.nodeId, uptime_s: Math.round(process.uptime()) } });
  });

  router.get('/ready', async (_req, res) => {
    const { ready, checks, checkedAt } = await deps.readiness();
    res
      .status(ready ? 200 : 503)
      .set('cache-control', 'no-store')
      .json({ ok: ready, data: { status: ready ? 'ready' : 'not_ready', node_id: deps.nodeId, checks, checked_at: new Date(checkedAt).toISOString() } });
  });

  return router;
}

async function runChecks(checks: Record<string, HealthCheck>, timeoutMs: number): Promise<Readiness> {
  const checkedAt = Date.now();
  const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const));
  return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries), checkedAt };
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<CheckResult> {
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
