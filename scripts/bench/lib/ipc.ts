/**
 * Request/answer over the IPC channel of a forked child (`serialization: 'advanced'`, so typed
 * arrays cross as they are). The parent side keeps every child it started in one set and kills
 * what is left when it exits, whatever the reason; the child side exits when its parent is gone.
 */
import { fork, type ChildProcess } from 'node:child_process';

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}
type Answer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
interface Ready {
  ready: true;
  info: Record<string, unknown>;
}

const OUTPUT_KEEP = 32 * 1024;
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Every child still running (for the orchestrator's last-resort clean-up). */
export function liveChildren(): number {
  return live.size;
}

export interface StartOptions {
  env: Record<string, string>;
  execArgv?: string[];
  args?: string[];
  readyTimeoutMs?: number;
}

export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private buffer = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  info: Record<string, unknown> = {};

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    live.add(proc);
    const append = (c: Buffer) => {
      this.buffer = (this.buffer + c.toString()).slice(-OUTPUT_KEEP);
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${name} exited (code ${code}, signal ${signal}) during a request:\n${this.output().slice(-4000)}`));
        }
        this.pending.clear();
        resolve({ code, signal });
      });
    });
    proc.on('message', (raw: unknown) => {
      const msg = raw as Answer;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${name}: ${msg.error}`));
    });
  }

  /** Forks `script` with tsx and resolves once it said it is ready (with what it reported). */
  static async start(name: string, script: string, opts: StartOptions): Promise<Child> {
    const proc = fork(script, opts.args ?? [], {
      execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const child = new Child(name, proc);
    try {
      child.info = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready within ${opts.readyTimeoutMs ?? 60_000} ms`)), opts.readyTimeoutMs ?? 60_000);
        const onMessage = (raw: unknown) => {
          const msg = raw as Partial<Ready>;
          if (msg.ready) {
            clearTimeout(timer);
            proc.off('message', onMessage);
            resolve(msg.info ?? {});
          }
        };
        proc.on('message', onMessage);
        void child.exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal}):\n${child.output().slice(-4000)}`));
        });
      });
    } catch (err) {
      child.kill();
      throw err;
    }
    return child;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  output(): string {
    return this.buffer;
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 180_000): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Asks the child to stop (it cleans up and exits); SIGKILL when it does not within the timeout. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    void this.call('stop', {}, timeoutMs).catch(() => undefined);
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      this.kill();
      await this.exited;
    }
  }

  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }
}

type Handler = (args: any) => unknown;

/**
 * The child side: answers requests with the handlers; `stop` runs `onStop`, answers, then exits
 * with code 0 (a normal exit, so `--cpu-prof` writes its profile).
 */
export function serve(handlers: Record<string, Handler>, info: Record<string, unknown>, onStop: () => Promise<void> = async () => undefined): void {
  const send = (msg: Answer, then?: () => void) => {
    if (process.send) process.send(msg, undefined, {}, () => then?.());
    else then?.();
  };
  process.on('message', (raw: unknown) => {
    const { id, cmd, args } = raw as Request;
    if (cmd === 'stop') {
      void onStop()
        .catch(() => undefined)
        .finally(() => send({ id, ok: true, result: null }, () => process.exit(0)));
      return;
    }
    const handler = handlers[cmd];
    if (!handler) {
      send({ id, ok: false, error: `unknown command ${cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(args))
      .then(
        (result) => send({ id, ok: true, result }),
        (err: unknown) => send({ id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The orchestrator is gone (crashed or killed): nothing of ours may outlive it.
  process.on('disconnect', () => {
    void onStop()
      .catch(() => undefined)
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(1), 5000).unref();
  });
  if (process.send) process.send({ ready: true, info } satisfies Ready);
}

/** The shared wall clock of every bench process (ms, sub-ms resolution). */
export const wallNow = (): number => performance.timeOrigin + performance.now();
