/** A user: stable id, display name, and the application's JSON about them. */
export interface Member<Info = unknown, State = unknown> {
  id: string;
  name: string;
  /** What the application attached to the user (a token's `info` claim, e.g. `{avatar}`). */ info?: Info;
  /** The member's JSON state in this room (`room.setState`), e.g. `{read: 42}`. */ state?: State;
}
/** The server's confirmation of a publish / direct / rename / leave / setState. */
export interface Ack {
  ref?: string; room?: string;
  /** publish / direct: where the message is stored. */ offset?: number;
  /** publish / direct: when it was stored (ms since the Unix epoch). */ ts?: number;
  /** token refresh: the new token's expiry (seconds since the Unix epoch). */ expires?: number;
}
/** A room message (`payload` is whatever the publisher sent). */
export interface ConfabMessage<P = unknown> {
  room: string; offset: number; from: Member; ts: number; payload: P;
  /** The publisher's client message id (every SDK publish has one). */ cid?: string;
}
/** `room.history()` options: messages with offsets below `before` (default: the newest), at most `limit` (default 50, capped by the server). */
export interface HistoryOptions { before?: number; limit?: number }
/** A page of older messages, oldest first; `more: false` = nothing older is kept (a first offset of 1 is the beginning of the conversation). */
export interface HistoryPage<P = unknown> { messages: ConfabMessage<P>[]; more: boolean }
/** An ephemeral signal from a member (`room.signal()`): not stored, no offset. */
export interface RoomSignal<P = unknown> { from: Member; payload: P }
export type ConnectionStateName = "connecting" | "open" | "reconnecting" | "closed";
/** Connection state with its details. */
export interface ConnectionStateInfo {
  state: ConnectionStateName;
  /** reconnecting: attempt number (1-based). */ attempt?: number;
  /** reconnecting: delay before that attempt. */ retryInMs?: number;
  /** closed: WebSocket close code. */ code?: number;
  /** closed: close reason. */ reason?: string;
}
export type RoomStateName = "joining" | "joined" | "leaving" | "left" | "errored";
/** `updates`: members whose name, `info` or `state` changed, each as it is now. */
export interface PresenceDiff { joins: Member[]; leaves: Member[]; updates: Member[] }
/** SDK codes, plus the server's error codes (`not_joined`, `rate_limited`, ...). */
export type ConfabErrorCode =
  | "ack_timeout" | "disconnected" | "closed" | "buffer_full" | "buffer_overflow" | "not_joined"
  | "room_name_invalid" | "serde" | "invalid_url" | "js" | "bad_json" | "unknown_type" | "bad_request"
  | "name_invalid" | "too_large" | "rate_limited" | "unauthorized" | "too_many_rooms" | "unknown_user"
  | "forbidden" | "hook_denied" | "hook_unavailable" | "unavailable" | "outcome_unknown" | "internal";
/** Every promise the SDK rejects rejects with one of these. */
export interface ConfabError extends Error {
  code: ConfabErrorCode;
  /** The room a server error concerns (e.g. a refused join), when it names one. */
  room?: string;
}
export interface BackoffOptions {
  /** Smallest reconnect delay (default 250). */ minMs?: number;
  /** Largest reconnect delay (default 10000). */ maxMs?: number;
  /** A connection open this long resets the attempt counter (default 5000). */ stableAfterMs?: number;
  /** Give up after this many failed attempts in a row (default: never). */ maxAttempts?: number;
}
/** Returns the token for the next (re)connect, sent as `?token=`; also called at 80% of a live connection's token lifetime, the new token then sent as `refresh`. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;
export interface ConfabClientOptions {
  /** Guest display name for the first connection (reconnects use the current one). */ name?: string;
  /** A saved `client.guestToken`: start as that guest (same id after a page reload). */ guestToken?: string;
  /** Several endpoint URLs tried in turn (replaces the constructor's). */ urls?: string[];
  tokenProvider?: TokenProvider;
  /** Reply timeout for publish/direct/rename/join, including time queued offline (default 10000). */ ackTimeoutMs?: number;
  /** Requests that may wait while offline (default 100). */ sendBuffer?: number;
  /** Full buffer: refuse the new request (default) or drop the oldest. */ overflow?: "reject-new" | "drop-oldest";
  /** Ping at least this often (the server's interval is used when shorter). */ heartbeatMs?: number;
  /** Give up on a WebSocket handshake after this long and retry (default 10000). */ connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Messages kept per room for `room.recent()` (default 1000). */ historyLimit?: number;
}
export interface ConfabSocketOptions {
  urls?: string[];
  protocols?: string[];
  tokenProvider?: TokenProvider;
  /** Extra query parameters added to the URL. */ query?: Record<string, string>;
  /** Frames kept while offline (default 100). */ sendBuffer?: number;
  overflow?: "reject-new" | "drop-oldest";
  /** Unread messages kept for read()/wait()/iteration (default 10000; 0 = off). */ readBuffer?: number;
  /** Give up on a WebSocket handshake after this long and retry (default 10000). */ connectTimeoutMs?: number;
  backoff?: BackoffOptions;
}
export interface ClientEvents { state: ConnectionStateInfo; welcome: Member; direct: ConfabMessage; error: ConfabError }
/** `error`: the server refused to (re-)join the room (state `errored`; `unauthorized`, `forbidden`, `hook_denied` and `room_name_invalid` are final: not retried on reconnect). */
export interface RoomEvents { message: ConfabMessage; presence: PresenceDiff; members: Member[]; signal: RoomSignal; state: RoomStateName; gap: undefined; error: ConfabError }
export interface SocketEvents { message: unknown; state: ConnectionStateInfo }
export interface ConfabClient {
  /** Adds a listener. */
  on<K extends keyof ClientEvents>(event: K, listener: (e: ClientEvents[K]) => void): void;
  /** Removes a listener added with `on`. */
  off<K extends keyof ClientEvents>(event: K, listener: (e: ClientEvents[K]) => void): void;
}
export interface ConfabRoom {
  on<K extends keyof RoomEvents>(event: K, listener: (e: RoomEvents[K]) => void): void;
  off<K extends keyof RoomEvents>(event: K, listener: (e: RoomEvents[K]) => void): void;
}
export interface ConfabSocket {
  on<K extends keyof SocketEvents>(event: K, listener: (e: SocketEvents[K]) => void): void;
  off<K extends keyof SocketEvents>(event: K, listener: (e: SocketEvents[K]) => void): void;
}
