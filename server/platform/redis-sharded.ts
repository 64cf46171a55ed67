import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';

/** The adapter's message type for a broadcast (socket.io-adapter's MessageType.BROADCAST). */
const BROADCAST = 3;

interface BroadcastOptions {
  rooms: Set<string>;
  except?: Set<string>;
  flags?: { local?: boolean } & Record<string, unknown>;
}

/** The parts of socket.io-adapter's ClusterAdapter this file relies on. */
interface ClusterAdapterLike {
  broadcast(packet: unknown, opts: BroadcastOptions): unknown;
  fetchSockets(opts: BroadcastOptions): Promise<unknown[]>;
  publish(message: { type: number; data: unknown }): void;
}

export interface ShardedOptions {
  channelPrefix: string;
  /**
   * Rooms that (nearly) every node has sockets in: a broadcast to one of them together with other
   * rooms is published once on the namespace's main channel, which every node receives anyway,
   * rather than once per room (a node in all of them would parse each copy).
   */
  broadRooms: readonly string[];
}

/**
 * `@socket.io/redis-adapter`'s sharded adapter (Redis 7 SPUBLISH/SSUBSCRIBE, subscriptionMode
 * `dynamic`: a channel per public room, subscribed by the nodes that have a socket in it), with
 * two changes to its `broadcast`:
 *
 * - A broadcast to several rooms is published once per room, room i excepting rooms 1…i−1, so that
 *   each copy goes on that room's own channel (the stock adapter sends any multi-room broadcast on
 *   the main channel, to every node): `booking_updated` to `user:…` and `admin` reaches the node of
 *   that user and the nodes with admins only. A socket in several of the rooms still gets the event
 *   once, and always through the same room, so the order within a stream is kept.
 * - This node's own sockets get it at once, as with the classic adapter (the stock ClusterAdapter
 *   waits for Redis's answer first, which would hold local delivery hostage to a Redis outage).
 *
 * And `io.local.fetchSockets()` answers from this node alone (the stock ClusterAdapter first asks
 * Redis how many servers there are, even for a local query, so it fails while Redis is down).
 */
export function createShardedRedisAdapter(pub: Redis, sub: Redis, opts: ShardedOptions): ReturnType<typeof createShardedAdapter> {
  const make = createShardedAdapter(pub, sub, { channelPrefix: opts.channelPrefix, subscriptionMode: 'dynamic' });
  const broad = new Set(opts.broadRooms);
  // A function, not an arrow: Socket.IO calls the factory with `new`.
  return function shardedAdapter(nsp: unknown) {
    const adapter = make(nsp) as unknown as ClusterAdapterLike;
    // ShardedRedisAdapter → ClusterAdapter → the in-memory Adapter, whose broadcast delivers locally.
    const inMemory = Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf(adapter))) as ClusterAdapterLike;
    if (typeof inMemory.broadcast !== 'function' || typeof adapter.publish !== 'function') {
      throw new Error('@socket.io/redis-adapter changed shape: the sharded adapter wrapper needs updating');
    }
    adapter.broadcast = (packet, o) => {
      if (!o.flags?.local) {
        const rooms = [...o.rooms];
        const except = [...(o.except ?? [])];
        const whole = rooms.length <= 1 || rooms.some((r) => broad.has(r));
        const parts = whole ? [{ rooms, except }] : rooms.map((room, i) => ({ rooms: [room], except: [...except, ...rooms.slice(0, i)] }));
        for (const p of parts) adapter.publish({ type: BROADCAST, data: { packet, opts: { ...p, flags: o.flags } } });
      }
      return inMemory.broadcast.call(adapter, packet, o);
    };
    const clusterFetch = adapter.fetchSockets.bind(adapter);
    adapter.fetchSockets = (o) => (o.flags?.local ? inMemory.fetchSockets.call(adapter, o) : clusterFetch(o));
    return adapter as never;
  };
}
