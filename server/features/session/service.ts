import type { Principal } from '../../platform/auth/principal.js';
import type { Logger } from '../../platform/logger.js';
import { fetchClusterSockets } from '../../platform/socket/presence.js';
import { rooms } from '../../contract/index.js';
import type { IoServer } from '../../platform/socket/types.js';

export interface ConnectionStatus {
  user: { id: string; role: string };
  connected: boolean;
  sockets: { socket_id: string; node_id: string; connected_at: string }[];
  node_id: string;
  partial: boolean;
  timestamp: string;
}

export interface SessionService {
  connectionStatus(principal: Principal): Promise<ConnectionStatus>;
}

/** The caller's own live sockets across the cluster (their user room), for "am I online?". */
export function createSessionService(deps: { io: IoServer; nodeId: string; logger: Logger }): SessionService {
  return {
    async connectionStatus(principal) {
      const { sockets, partial } = await fetchClusterSockets(deps.io, rooms.user(principal.userId), deps.logger);
      return {
        user: { id: principal.userId, role: principal.role },
        connected: sockets.length > 0,
        sockets: sockets.map((s) => ({
          socket_id: s.id,
          node_id: s.data.nodeId,
          connected_at: new Date(s.data.connectedAt).toISOString(),
        })),
        node_id: deps.nodeId,
        partial,
        timestamp: new Date().toISOString(),
      };
    },
  };
}
