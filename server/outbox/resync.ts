import type { Db } from '../platform/db/db.js';
import type { Logger } from '../platform/logger.js';
import type { IoServer } from '../platform/socket/types.js';
import { emitLogged } from './emit.js';
import { toLoggedEvents } from './logged-event.js';

export interface ResyncOptions {
  io: IoServer;
  db: Db;
  logger: Logger;
  /**
   * Added before the moment the interruption was noticed: how late it may have been noticed (a
   * closed connection at once; one cut silently by the network at the next heartbeat, within
   * about 10 s), plus the difference between this node's clock and the database's.
   */
  marginMs?: number;
  pageSize?: number;
}

/**
 * After this node's Redis subscription was interrupted, whatever other nodes published meanwhile
 * never reached it. Those events are in the log: everything marked dispatched since shortly before
 * the interruption (marked = its publish was confirmed, possibly while this node was not
 * subscribed), and everything not yet marked. They are emitted again to this node's own clients,
 * in log order, for the rooms that have sockets here; clients drop what they already had by seq.
 */
export class LocalResync {
  readonly stats = { runs: 0, reemitted: 0 };

  constructor(private readonly opts: ResyncOptions) {}

  async run(downSince: number): Promise<number> {
    const from = new Date(downSince - (this.opts.marginMs ?? 15_000));
    const page = this.opts.pageSize ?? 1000;
    const rooms = this.opts.io.of('/').adapter.rooms;
    let after = 0;
    let sent = 0;
    for (;;) {
      const { rows: raw } = await this.opts.db.asSystem((tx) =>
        tx.query(
          `select id, stream, seq, event, rooms, payload from public.event_log
            where id > $1 and (dispatched_at is null or dispatched_at >= $2)
            order by id limit $3`,
          [after, from, page],
        ),
      );
      for (const e of toLoggedEvents(raw)) {
        const here = e.rooms.filter((r) => rooms.has(r));
        if (here.length === 0) continue;
        emitLogged(this.opts.io.local.to(here), e);
        sent++;
      }
      if (raw.length < page) break;
      after = Number((raw.at(-1) as { id: unknown }).id);
      // Let the sockets' writes go out between pages.
      await new Promise((r) => setImmediate(r));
    }
    this.stats.runs++;
    this.stats.reemitted += sent;
    this.opts.logger.info({ reemitted: sent, since: from.toISOString() }, 're-emitted to local clients what the Redis interruption may have kept from them');
    return sent;
  }
}
