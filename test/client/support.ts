/**
 * For the client package's suites: clients that are closed after each test, waiting on the
 * client's state, and a TCP relay that stands where a node is (to stop a node and bring another
 * up at the same address, or to cut the connection).
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createSpotcastClient } from '../../client/src/index.js';
import type { ConnectionState, EventPayload, ServerEventName, SpotcastClient, SpotcastClientOptions, TokenSource } from '../../client/src/index.js';

const open = new Set<SpotcastClient>();

/** A client on WebSocket with quick reconnects (the defaults wait up to 5 s between tries). */
export function newClient(url: string, getToken: TokenSource, extra: Partial<SpotcastClientOptions> = {}): SpotcastClient {
  const client = createSpotcastClient({
    url,
    getToken,
    ...extra,
    socketOptions: { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500, ...extra.socketOptions },
  });
  open.add(client);
  return client;
}

export function closeClients(): void {
  for (const c of open) c.close();
  open.clear();
}

/** Resolves with the state once `check` holds; rejects with the last state after the timeout. */
export function stateWhen(client: SpotcastClient, check: (s: ConnectionState) => boolean, what: string, timeoutMs = 15_000): Promise<ConnectionState> {
  return new Promise((resolve, reject) => {
    const test = () => {
      const s = client.state.get();
      if (!check(s)) return false;
      clearTimeout(timer);
      stop();
      resolve(s);
      return true;
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out waiting for ${what}; state: ${JSON.stringify(client.state.get())}`));
    }, timeoutMs);
    const stop = client.state.subscribe(() => void test());
    test();
  });
}

export const connected = (client: SpotcastClient, what = 'connected') => stateWhen(client, (s) => s.status === 'connected', what);

/** Every status the client goes through, from now on, without repeats. */
export function statuses(client: SpotcastClient): string[] {
  const seen = [client.state.get().status as string];
  client.state.subscribe(() => {
    const now = client.state.get().status;
    if (seen.at(-1) !== now) seen.push(now);
  });
  return seen;
}

/** Every payload the client delivers for an event (each logged event once, by design). */
export function collect<E extends ServerEventName>(client: SpotcastClient, event: E): EventPayload<E>[] {
  const seen: EventPayload<E>[] = [];
  client.on(event, (p) => seen.push(p));
  return seen;
}

/** A token source that counts its calls. */
export function tokenSource(next: () => string | undefined): TokenSource & { calls: number; given: (string | undefined)[] } {
  const source = Object.assign(
    () => {
      source.calls++;
      const token = next();
      source.given.push(token);
      return token;
    },
    { calls: 0, given: [] as (string | undefined)[] },
  );
  return source;
}

/**
 * A TCP relay at a fixed address in front of a node. `to(port)` sends new connections there;
 * `to(undefined)` refuses them; `cut()` drops the open ones (as a network failure would).
 */
export class Relay {
  #target: number | undefined;
  readonly #pairs = new Set<Socket>();
  readonly #server: Server;

  private constructor(target: number | undefined) {
    this.#target = target;
    this.#server = createServer((inbound) => {
      if (this.#target === undefined) return void inbound.destroy();
      const outbound = tcpConnect(this.#target, '127.0.0.1');
      for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
        this.#pairs.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.#pairs.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
  }

  static async start(target: number | undefined): Promise<Relay> {
    const relay = new Relay(target);
    await new Promise<void>((resolve) => relay.#server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  to(port: number | undefined): void {
    this.#target = port;
  }

  cut(): void {
    for (const s of this.#pairs) s.destroy();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
