/**
 * A value that tells its listeners when it changes: what React's useSyncExternalStore (and any
 * other view) reads. `get` returns the same object until the next change.
 */
export interface Readable<T> {
  get(): T;
  /** Calls `listener` after every change; returns the function that stops it. */
  subscribe(listener: () => void): () => void;
}

export class Observable<T> implements Readable<T> {
  #value: T;
  readonly #listeners = new Set<() => void>();

  constructor(value: T) {
    this.#value = value;
  }

  readonly get = (): T => this.#value;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };

  set(value: T): void {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    notify(this.#listeners);
  }
}

/**
 * Calls every listener even when one throws; the first error is thrown afterwards, on its own
 * task, so a broken view is reported without stopping the client or the other views.
 */
export function notify<A extends unknown[]>(listeners: Iterable<(...args: A) => void>, ...args: A): void {
  for (const listener of [...listeners]) {
    try {
      listener(...args);
    } catch (err) {
      setTimeout(() => {
        throw err;
      });
    }
  }
}
