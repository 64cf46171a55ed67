import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyaddr from 'proxy-addr';
import { RateLimitedError, type RateLimits } from '../limits/rate-limits.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observability/metrics.js';

export type Trust = (addr: string, i: number) => boolean;

export interface HandshakeGuardOptions {
  limits: RateLimits;
  trust: Trust;
  metrics: Metrics;
  logger: Logger;
  /** Makes room for the session an admitted handshake is about to open (see UnauthenticatedSessions). */
  makeRoom: () => void;
}

/** What the guard learnt of a handshake, for the Socket.IO middleware that sees its connect packet. */
interface Admitted {
  ip: string;
  /** Over the `connect` budget (within `handshake`): refused at the connect packet, where the client can read why. */
  refusal?: RateLimitedError;
}

const admitted = new WeakMap<IncomingMessage, Admitted>();

/**
 * The handshake request's address and deferred refusal (undefined for a request the guard did not
 * see). Read once, at the connect packet: the entry is dropped then (the request lives as long as
 * the socket, and an idle socket need not carry it).
 */
export function admittedAs(req: IncomingMessage): Admitted | undefined {
  const seen = admitted.get(req);
  admitted.delete(req);
  return seen;
}

type Answer = (err: string | null | undefined, success: boolean) => void;

/**
 * Engine.IO's `allowRequest`: runs for every handshake (a request without a session id) before
 * Engine.IO creates a session, so a client that never authenticates cannot pile up sessions.
 * Each handshake costs a point of its address's `handshake` and `connect` budgets (trusted
 * proxies' X-Forwarded-For as for HTTP). Past `handshake` (twice `connect`) it is refused here:
 * `RATE_LIMITED`. Between the two it is let in and refused at its connect packet with a
 * `connect_error` the client can read (see `admittedAs`), as every attempt past the limit was
 * before; Engine.IO's own refusal reaches socket.io-client only as "xhr poll error" or
 * "websocket error". An admitted handshake makes room for its session (the node's cap on
 * sessions waiting to authenticate).
 *
 * A refusal is Engine.IO's 403 (polling: JSON `{ code: 4, message }` with Retry-After; WebSocket:
 * 400 and the message) — the one answer `allowRequest` can give.
 */
export function handshakeGuard(opts: HandshakeGuardOptions) {
  return (req: IncomingMessage, answer: Answer): void => {
    let ip: string;
    try {
      ip = proxyaddr(req, opts.trust);
    } catch (err) {
      // Inside Engine.IO's request handler a throw would be an uncaught exception.
      return fail(req, answer, opts, err);
    }
    const admit = (as: Admitted) => {
      admitted.set(req, as);
      opts.makeRoom();
      answer(null, true);
    };
    opts.limits.consume('handshake', ip).then(
      () =>
        opts.limits.consume('connect', ip).then(
          () => admit({ ip }),
          (err: unknown) => (err instanceof RateLimitedError ? admit({ ip, refusal: err }) : fail(req, answer, opts, err)),
        ),
      (err: unknown) =>
        err instanceof RateLimitedError
          ? refuse(req, answer, opts, 'RATE_LIMITED', err.retryAfterMs, 'too many connection attempts from this address', ip)
          : fail(req, answer, opts, err),
    );
  };
}

function refuse(req: IncomingMessage, answer: Answer, opts: HandshakeGuardOptions, code: string, retryAfterMs: number, why: string, ip?: string): void {
  opts.metrics.connectionsRefused.inc({ reason: code });
  opts.logger.debug({ ip, code }, 'handshake refused');
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  // Polling handshakes carry their response here until Engine.IO answers; WebSocket upgrades do not.
  const res = (req as IncomingMessage & { res?: ServerResponse | null }).res;
  if (res && !res.headersSent) res.setHeader('Retry-After', String(seconds));
  answer(`${code}: ${why}; retry in ${seconds} s`, false);
}

function fail(req: IncomingMessage, answer: Answer, opts: HandshakeGuardOptions, err: unknown): void {
  opts.logger.error({ err }, 'connection limit could not be checked; refusing the handshake');
  refuse(req, answer, opts, 'INTERNAL_ERROR', 1000, 'the connection limit could not be checked');
}
