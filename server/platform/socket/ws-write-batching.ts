import type { Server as IoServer } from 'socket.io';

/** What this module touches of an engine.io transport: its name, its send, and ws's TCP socket. */
interface Transport {
  name: string;
  send(packets: unknown[]): void;
  socket?: { _socket?: { cork?: () => void; uncork?: () => void } };
}

interface EngineSocket {
  transport: Transport;
  on(event: 'upgrade', listener: (transport: Transport) => void): void;
}

const batched = new WeakSet<Transport>();

/**
 * One write system call for the packets engine.io flushes to a WebSocket together.
 *
 * While a WebSocket write is in flight, engine.io queues what else is emitted to that socket and
 * sends the queue in one `send(packets)` call, but writes each packet with its own `write()`: one
 * `writev` system call per packet per socket. That call was 57 % of the server's CPU time in the
 * fan-out benchmark. Corking the TCP socket for the length of that loop hands the kernel all the
 * queued frames at once; the bytes, their order and the moment they leave are the same. Corking
 * ws's underlying socket from outside is what the ws maintainers advise for batching writes
 * (websockets/ws#1999). Polling transports are left as they are: they already send one response.
 */
export function batchWebSocketWrites(io: IoServer): void {
  const engine = io.engine as unknown as { on(event: 'connection', listener: (socket: EngineSocket) => void): void };
  engine.on('connection', (socket) => {
    batch(socket.transport);
    socket.on('upgrade', batch);
  });
}

function batch(transport: Transport): void {
  const raw = transport.socket?._socket;
  if (transport.name !== 'websocket' || batched.has(transport) || typeof raw?.cork !== 'function' || typeof raw.uncork !== 'function') return;
  batched.add(transport);
  const send = transport.send.bind(transport);
  transport.send = (packets) => {
    if (packets.length < 2) return send(packets);
    raw.cork!();
    try {
      send(packets);
    } finally {
      raw.uncork!();
    }
  };
}
