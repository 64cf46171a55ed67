import type { Logger } from '../logger.js';
import type { IoServer } from './types.js';

export interface SocketSummary {
  socket_id: string;
  user_id: string;
  role: string;
  /** The operator its token names (org claim), or null. */
  org_id: string | null;
  node_id: string;
  connected_at: string;
  rooms: string[];
}

export interface ClusterSockets {
  sockets: SocketSummary[];
  /** True when some node did not answer in time and only this node's sockets are listed. */
  partial: boolean;
}

/**
 * Sockets of the whole cluster (through the adapter), falling back to this node's own when a
 * node does not answer: an admin still gets an answer, marked partial.
 */
export async function clusterSockets(io: IoServer, logger: Logger): Promise<ClusterSockets> {
  const { sockets, partial } = await fetchClusterSockets(io, undefined, logger);
  return { sockets: sockets.map(summary), partial };
}

/** Longer than the adapter's own 3 s requestsTimeout, which only starts once Redis answers at all. */
const CLUSTER_QUERY_TIMEOUT_MS = 3500;

/**
 * `fetchSockets` across the cluster, bounded: while Redis is unreachable the adapter would wait
 * for it (ioredis queues the command), so past the timeout this node answers with its own
 * sockets and says the answer is partial.
 */
export async function fetchClusterSockets(io: IoServer, room: string | undefined, logger: Logger) {
  const cluster = room ? io.in(room) : io;
  const local = room ? io.local.in(room) : io.local;
  let timer: NodeJS.Timeout | undefined;
  try {
    const sockets = await Promise.race([
      cluster.fetchSockets(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from the cluster within ${CLUSTER_QUERY_TIMEOUT_MS} ms`)), CLUSTER_QUERY_TIMEOUT_MS);
      }),
    ]);
    return { sockets, partial: false };
  } catch (err) {
    logger.warn({ err }, 'cluster socket query incomplete; answering with this node only');
    return { sockets: await local.fetchSockets(), partial: true };
  } finally {
    clearTimeout(timer);
  }
}

function summary(s: { id: string; data: { principal: { userId: string; role: string; orgId: string | null }; nodeId: string; connectedAt: number }; rooms: Set<string> }): SocketSummary {
  return {
    socket_id: s.id,
    user_id: s.data.principal.userId,
    role: s.data.principal.role,
    org_id: s.data.principal.orgId,
    node_id: s.data.nodeId,
    connected_at: new Date(s.data.connectedAt).toISOString(),
    rooms: [...s.rooms].filter((r) => r !== s.id),
  };
}

export function countBy<T>(items: T[], key: (item: T) => string[] | string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const keys = key(item);
    for (const k of Array.isArray(keys) ? keys : [keys]) counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
