/**
 * The reference: a bare Socket.IO server with the same engine options as spotcast's (createIo), no
 * auth, no database. `subscribe { room }` joins the room; `trigger { room, event, payload }` does
 * the broadcast spotcast's dispatcher does (`io.to(room).emit(event, payload)`) and acks.
 *
 * With BARE_DATABASE_URL set, each trigger first commits one Postgres transaction shaped like
 * spotcast's (a row lock that serialises the triggers, an insert of the payload, commit, sent in
 * one round trip; a pool of 10): the same broadcast code paced by a database, to tell what the
 * database costs from what spotcast's own code costs. It is stock Socket.IO: one write system
 * call per packet per socket, where spotcast batches (server/platform/socket/ws-write-batching.ts).
 *
 * With BARE_REDIS_URL (and BARE_REDIS_KEY), bare servers share rooms through the classic
 * `@socket.io/redis-adapter`, as spotcast's nodes do: the baseline of the city workload on two nodes.
 * A payload whose `timestamp` is `"commit"` is stamped just before its transaction, as spotcast's
 * events are stamped inside theirs (latency = that stamp → arrival).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { writeHeapSnapshot } from 'node:v8';
import pg from 'pg';
import { Server } from 'socket.io';
import { serve } from './lib/ipc.js';
import { forcedGcMemory } from './lib/memory.js';
import { writeSyscalls } from './lib/proc.js';

type Ack = (answer: unknown) => void;

const databaseUrl = process.env.BARE_DATABASE_URL;
const pool = databaseUrl ? new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BARE_POOL_MAX ?? 10), application_name: 'spotcast-bench-bare' }) : undefined;

/** Both statements in one simple query: one implicit transaction, one round trip (as spotcast's Db sends a command). */
async function commitFirst(payload: unknown): Promise<void> {
  await pool!.query(
    'update public.bench_bare_lot set n = n + 1 where id = 1; ' +
      `insert into public.bench_bare_events (payload) values (${pg.escapeLiteral(JSON.stringify(payload))})`,
  );
}

async function main(): Promise<void> {
  const httpServer = createServer();
  const io = new Server(httpServer, {
    cors: { origin: true },
    maxHttpBufferSize: 64 * 1024,
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  const redisUrl = process.env.BARE_REDIS_URL;
  const redis = redisUrl ? [new Redis(redisUrl), new Redis(redisUrl)] : [];
  if (redis.length) io.adapter(createAdapter(redis[0], redis[1], { key: process.env.BARE_REDIS_KEY ?? 'bare.io' }));
  io.on('connection', (socket) => {
    socket.on('subscribe', (payload: { room?: string }, ack?: Ack) => {
      const room = String(payload?.room ?? '');
      void socket.join(room);
      ack?.({ ok: true, data: { room } });
    });
    socket.on('trigger', (payload: { room: string | string[]; event: string; payload: { timestamp?: string } }, ack?: Ack) => {
      if (payload.payload?.timestamp === 'commit') payload.payload.timestamp = new Date().toISOString();
      const broadcast = () => {
        io.to(payload.room).emit(payload.event, payload.payload);
        ack?.({ ok: true, data: null });
      };
      if (!pool) return broadcast();
      commitFirst(payload.payload).then(broadcast, (err: unknown) => ack?.({ ok: false, error: { code: 'DB', message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  serve(
    {
      /** The monotonic clock (µs) the V8 CPU profile stamps its samples with: brackets the workload. */
      mark: () => Number(process.hrtime.bigint() / 1000n),
      /** CPU time this process used so far (µs, user + system): what a workload cost, whatever the machine's load. */
      cpu: () => {
        const u = process.cpuUsage();
        return u.user + u.system;
      },
      writes: () => writeSyscalls(),
      async mem() {
        return { ...(await forcedGcMemory()), sockets: io.engine.clientsCount };
      },
      async snapshot(file: string) {
        await forcedGcMemory();
        return writeHeapSnapshot(file);
      },
      stats() {
        return { sockets: io.engine.clientsCount };
      },
    },
    { port: (httpServer.address() as AddressInfo).port, pid: process.pid },
    async () => {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await pool?.end();
      for (const r of redis) r.disconnect();
    },
  );
}

main().catch((err: unknown) => {
  console.error('bare Socket.IO server failed to start:', err);
  process.exit(1);
});
