import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { IoServer } from './types.js';

export interface Connections {
  /** Destroys every TCP connection still open; returns how many there were. */
  destroyAll(): number;
}

/**
 * Every TCP connection of the HTTP server — WebSocket, long-polling and plain HTTP alike — so that
 * a stop can cut what does not close by itself. (The HTTP server's own closeAllConnections does
 * not see connections upgraded to WebSocket.)
 */
export function trackConnections(httpServer: HttpServer): Connections {
  const open = new Set<Socket>();
  httpServer.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return {
    destroyAll() {
      const n = open.size;
      for (const socket of open) socket.destroy();
      open.clear();
      return n;
    },
  };
}

/** Longest the sockets get to close by themselves; a quarter of SHUTDOWN_TIMEOUT_MS when that is shorter. */
const CLOSE_GRACE_MS = 2000;

function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Closes Socket.IO within a bounded time. `io.close()` waits for every connection to end: a
 * client that never reads never answers ws's close handshake (ws waits 30 s for it), and with
 * Redis unreachable the adapter's close never returns. Past the grace, the connections left are
 * destroyed and the stop goes on.
 */
export async function closeSockets(io: IoServer, connections: Connections, opts: { shutdownTimeoutMs: number; logger: Logger }): Promise<void> {
  const graceMs = Math.min(CLOSE_GRACE_MS, opts.shutdownTimeoutMs / 4);
  const closed = io.close().catch((err: unknown) => opts.logger.warn({ err }, 'Socket.IO close failed'));
  if (await settledWithin(closed, graceMs)) return;
  const cut = connections.destroyAll();
  opts.logger.warn({ cut, graceMs }, 'connections still open after the close grace were cut');
  if (!(await settledWithin(closed, graceMs))) opts.logger.warn('Socket.IO did not finish closing (its adapter?); stopping without it');
}
