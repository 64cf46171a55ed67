import type { Logger } from '../logger.js';
import type { IoServer } from './types.js';

export interface SocketSummary {
  socket_id: string;
  user_id: string;
  role: string;
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
  try {
    const sockets = await io.fetchSockets();
    return { sockets: sockets.map(summary), partial: false };
  } catch (err) {
    logger.warn({ err }, 'cluster socket query incomplete; answering with this node only');
    const sockets = await io.local.fetchSockets();
    return { sockets: sockets.map(summary), partial: true };
  }
}

function summary(s: { id: string; data: { principal: { userId: string; role: string }; nodeId: string; connectedAt: number }; rooms: Set<string> }): SocketSummary {
  return {
    socket_id: s.id,
    user_id: s.data.principal.userId,
    role: s.data.principal.role,
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
