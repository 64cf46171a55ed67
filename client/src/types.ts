/** The public types of @spotcast/client. */
import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';
import type { AckResponse, ClientError } from '../../server/contract/errors.js';
import type { ClientEventName, ClientToServerEvents, ReplyOf, ServerEventName, ServerToClientEvents } from '../../server/contract/events.js';
import type { BookingView, LotAvailability, PaymentUpdatedPayload, PublicUser } from '../../server/contract/payloads.js';
import type { WaitlistEntryView } from '../../server/contract/waitlist.js';
import type { Readable } from './store.js';

/** socket.io-client's socket, typed with spotcast's events. */
export type SpotcastSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The payload a client event takes. */
export type PayloadOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];

/** What a server event's listener is given. */
export type EventPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

/**
 * The access token to connect with: called before every connection and ahead of the token's
 * expiry. Return the current token of your auth provider (a Supabase app:
 * `async () => (await supabase.auth.getSession()).data.session?.access_token`); nothing when
 * signed out, which ends the connection with TOKEN_MISSING.
 */
export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface SpotcastClientOptions {
  /** The spotcast server, e.g. `https://parking.example.com`. */
  url: string;
  getToken: TokenSource;
  /**
   * How long before the token's expiry to send a fresh one. Default: 60 s, or half the remaining
   * lifetime of a token that lives less than two minutes.
   */
  refreshLeadMs?: number | undefined;
  /** How long `request` waits for an answer. Default 10 s. */
  requestTimeoutMs?: number | undefined;
  /** Extra socket.io-client options (e.g. `transports: ['websocket']`, `path`). */
  socketOptions?: Partial<ManagerOptions & SocketOptions> | undefined;
}

/**
 * - `idle`: not started (`connect()` or a `retain()` starts it).
 * - `connecting`: the first connection is being made.
 * - `connected`: the server greeted this client (`user` is set).
 * - `reconnecting`: the connection was lost or the token expired; the client is getting back by itself.
 * - `error`: it cannot go on without you (`error` says why: a refused token, no token); `connect()` tries again.
 * - `closed`: `close()` was called.
 */
export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'error' | 'closed';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Who the server says we are (from the latest `connected`). */
  user: PublicUser | null;
  /** Why the status is `error`; while (re)connecting, the latest problem (the client is retrying). */
  error: (ClientError & { retry_after_ms?: number | undefined }) | null;
  /** When the server will end the session unless a fresh token reaches it (ISO 8601). */
  tokenExpiresAt: string | null;
  /** How many times the server has greeted this client (1 after the first connection). */
  connections: number;
}

export interface RequestOptions {
  timeoutMs?: number | undefined;
}

export interface SpotcastClient {
  readonly socket: SpotcastSocket;
  readonly state: Readable<ConnectionState>;
  /** Availability of the lots of the rooms subscribed (`parking_lot:<id>`, `parking_updates`), by lot id. */
  readonly lots: Readable<ReadonlyMap<string, LotAvailability>>;
  /** The signed-in user's bookings by id (from their room's snapshot, events and replies). */
  readonly bookings: Readable<ReadonlyMap<string, BookingView>>;
  /** True once the user's bookings have been loaded. */
  readonly bookingsLoaded: Readable<boolean>;
  /** The latest `payment_updated` per booking id, of the signed-in user's bookings. */
  readonly payments: Readable<ReadonlyMap<string, PaymentUpdatedPayload>>;
  /** The signed-in user's waitlist entries by id, as their latest `waitlist_updated` says (status, position, offer). */
  readonly waitlist: Readable<ReadonlyMap<string, WaitlistEntryView>>;
  /** Starts connecting (no-op while connecting or connected). */
  connect(): void;
  /** Disconnects and stops every timer; `connect()` starts again, resuming where it left off. */
  close(): void;
  /** Keeps the client connected while held: connects on the first hold, closes after the last release. */
  retain(): () => void;
  /**
   * Joins a room (`parking_lot:<id>`, `parking_updates`, `admin`, `admin:<operator id>`, `user:<id>`) for as long as
   * the returned function is not called; several holders of one room share one subscription. The
   * room's current state comes first (a snapshot), then its events, resumed after every reconnect.
   */
  subscribe(room: string): () => void;
  /**
   * Listens to a server event. Events of a room's stream (`parking_updated`, `booking_updated`,
   * `payment_updated`, `notification`, `waitlist_updated`) arrive once each: duplicates are dropped, gaps filled.
   */
  on<E extends ServerEventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Sends a client event and resolves with its answer; OFFLINE when not connected, TIMEOUT when unanswered. */
  request<E extends ClientEventName>(event: E, payload: PayloadOf<E>, options?: RequestOptions): Promise<AckResponse<ReplyOf<E>>>;
  /** Sends the token source's current token now (normally done ahead of expiry by itself). */
  refreshToken(): Promise<AckResponse<{ token_expires_at: string }>>;
  /** The last contiguous seq seen in a room's stream (what a resume sends), if tracked. */
  lastSeq(room: string): number | undefined;
}
