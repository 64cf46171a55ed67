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

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface InterServerEvents {}

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
