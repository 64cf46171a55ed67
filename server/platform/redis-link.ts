import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * What the outbox needs to know about the way to the other nodes (the Socket.IO Redis adapter):
 * whether what it emitted got there, and when this node may have missed what others emitted.
 */
export interface DeliveryLink {
  /**
   * Runs `emit` (one or more broadcasts) and resolves true once every publish it made to Redis was
   * accepted there; false when one failed or had no answer in time. True when it published nothing.
   */
  confirm(emit: () => void): Promise<boolean>;
  /** False while a connection of the adapter is down, or its latest publish or heartbeat failed. */
  healthy(): boolean;
  /**
   * `listener(downSince)` once the subscriber connection is subscribed again after an interruption
   * this node noticed at `downSince` (ms, this clock): what other nodes published meanwhile is lost.
   */
  onResubscribed(listener: (downSince: number) => void): void;
}

export interface LinkOptions {
  logger: Logger;
  /**
   * How long a publish (or a heartbeat PING) may take to be answered before it counts as failed.
   * Generous: under CPU starvation answers are late, not lost, and a false failure costs duplicates.
   */
  confirmTimeoutMs?: number;
  /** How often both connections are pinged: an idle connection cut by the network says nothing. */
  heartbeatMs?: number;
}

type Publish = (...args: unknown[]) => Promise<number>;

const withTimeout = <T>(p: Promise<T>, ms: number, fallback: T): Promise<T> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      () => (clearTimeout(timer), resolve(fallback)),
    );
  });

/**
 * Watches the adapter's two connections. Wraps `pub.publish` and `pub.spublish` (the adapter publishes without
 * handling the promise, and a rejection would end the process) so that `confirm` can collect the
 * publishes an emit makes: the adapter publishes synchronously inside `emit`.
 */
export function createDeliveryLink(pub: Redis, sub: Redis, opts: LinkOptions): DeliveryLink & { stop(): void } {
  const log = opts.logger;
  const confirmTimeoutMs = opts.confirmTimeoutMs ?? 5000;
  let collecting: Promise<number>[] | undefined;
  let lastFailure = 0;
  let lastSuccess = 0;
  let lastFailureLog = 0;
  let subDownSince: number | undefined;
  const listeners: ((downSince: number) => void)[] = [];

  const failed = (err: unknown) => {
    lastFailure = Date.now();
    if (lastFailure - lastFailureLog < 10_000) return;
    lastFailureLog = lastFailure;
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'Redis publish failed; the outbox sends unconfirmed events again once Redis answers');
  };
  // `publish` for the classic adapter, `spublish` for the sharded one (REDIS_ADAPTER=sharded).
  for (const name of ['publish', 'spublish'] as const) {
    const publish = pub[name].bind(pub) as Publish;
    (pub as unknown as Record<typeof name, Publish>)[name] = (...args) => {
      const sent = publish(...args);
      sent.catch(failed);
      collecting?.push(sent);
      return sent;
    };
  }

  const subDown = () => {
    subDownSince ??= Date.now();
  };
  sub.on('close', subDown);
  sub.on('ready', () => {
    const since = subDownSince;
    if (since === undefined) return;
    // Redis answers in order: once this PING is answered, the resubscription ioredis sent on
    // 'ready' is in place, and whatever is published from here on reaches this node.
    sub.ping().then(
      () => {
        if (subDownSince !== since || sub.status !== 'ready') return;
        subDownSince = undefined;
        log.info({ downMs: Date.now() - since }, 'Redis subscription restored; re-emitting to local clients what may have been missed');
        for (const l of listeners) l(since);
      },
      () => undefined, // down again: the next 'ready' tries again
    );
  });

  const heartbeat = setInterval(() => {
    if (pub.status === 'ready') {
      void withTimeout(pub.ping().then(() => true), confirmTimeoutMs, false).then((ok) => (ok ? (lastSuccess = Date.now()) : failed(new Error('no answer to PING'))));
    }
    if (sub.status === 'ready' && subDownSince === undefined) {
      void withTimeout(sub.ping().then(() => true), confirmTimeoutMs, false).then((ok) => {
        if (ok || sub.status !== 'ready') return;
        // A connection that stopped answering: start over, so that the resubscription (and the
        // re-emit for local clients) happens.
        log.warn('Redis subscriber connection stopped answering; reconnecting it');
        subDown();
        sub.disconnect(true);
      });
    }
  }, opts.heartbeatMs ?? 5000);
  heartbeat.unref();

  return {
    confirm(emit) {
      const outer = collecting;
      const mine: Promise<number>[] = [];
      collecting = mine;
      try {
        emit();
      } finally {
        collecting = outer;
      }
      if (mine.length === 0) return Promise.resolve(true);
      return withTimeout(Promise.all(mine).then(() => true), confirmTimeoutMs, false).then((ok) => {
        if (ok) lastSuccess = Date.now();
        else lastFailure = Math.max(lastFailure, Date.now());
        return ok;
      });
    },
    healthy: () => pub.status === 'ready' && sub.status === 'ready' && subDownSince === undefined && lastFailure <= lastSuccess,
    onResubscribed: (listener) => void listeners.push(listener),
    stop: () => clearInterval(heartbeat),
  };
}
