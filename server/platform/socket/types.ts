import type { Server, Socket } from 'socket.io';
import type { Principal } from '../auth/principal.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../contract/index.js';

export interface SocketData {
  principal: Principal;
  nodeId: string;
  connectedAt: number;
  /** The client's address (behind trusted proxies, from X-Forwarded-For). */
  ip?: string;
}

/** What one node lets a connection hold (config: SOCKET_*). */
export interface SocketLimits {
  /** Output queued for one socket past which it is disconnected as a slow consumer. */
  maxPendingBytes: number;
  /** Time a session has to send its connect packet and authenticate. */
  connectTimeoutMs: number;
  /** Sessions waiting to authenticate; a handshake past it closes the oldest of them. */
  maxUnauthenticated: number;
  /** Sockets one user may hold on this node. */
  maxPerUser: number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface InterServerEvents {}

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
