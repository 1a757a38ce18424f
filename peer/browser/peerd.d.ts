// Type declarations for peerd.js, the peerd browser client.

/** A value that travels as a raw binary: at any depth of arguments and results. */
export type BinaryLike = ArrayBuffer | ArrayBufferView | Blob | Chunks;

/** A binary received from the peer: one Uint8Array, or its chunks when it arrived in several messages. */
export type ReceivedBinary = Uint8Array | Chunks;

/** Base class of every error the client raises. */
export class PeerdError extends Error {}

/** A JSON-RPC error object sent by the peer. */
export class RemoteError extends PeerdError {
  /** The JSON-RPC error code (see `codes`). */
  readonly code: number;
  /** The peer's message, without the "remote error N:" prefix. */
  readonly remoteMessage: string;
  readonly data?: unknown;
}

/** The connection closed before the call was answered, or was already closed. */
export class ClosedError extends PeerdError {}

/** A call's timeout expired before its response arrived. */
export class TimeoutError extends PeerdError {}

/** A function handle was released (unbind, its call returned, or close). */
export class ReleasedError extends PeerdError {}

/** JSON-RPC error codes used by peerd. */
export const codes: Readonly<{
  parseError: -32700;
  invalidRequest: -32600;
  methodNotFound: -32601;
  invalidParams: -32602;
  internalError: -32603;
  serverError: -32000;
  cancelled: -32001;
  timeout: -32002;
  handleNotFound: -32003;
  handleEvicted: -32004;
  overloaded: -32005;
  connectionClosed: -32006;
}>;

/** A binary received in several messages: its pieces, in order, not copied. Reads like a Blob. */
export class Chunks implements Iterable<Uint8Array> {
  constructor(chunks: Uint8Array[], size: number);
  readonly chunks: Uint8Array[];
  readonly size: number;
  readonly byteLength: number;
  /** One contiguous copy, made once. */
  bytes(): Uint8Array;
  arrayBuffer(): Promise<ArrayBuffer>;
  blob(type?: string): Blob;
  stream(): ReadableStream<Uint8Array>;
  text(): Promise<string>;
  [Symbol.iterator](): Iterator<Uint8Array>;
}

export function isBinary(v: unknown): v is BinaryLike;
/** Any binary value as one Uint8Array (a view when possible). */
export function toBytes(v: BinaryLike): Promise<Uint8Array>;

/** Options of one call. */
export interface CallOptions {
  /** Milliseconds before the call rejects with TimeoutError and the peer is sent rpc.cancel; 0: none. */
  timeout?: number;
  /** Aborting rejects the call with the signal's reason and sends rpc.cancel. */
  signal?: AbortSignal;
  /** Deliver every binary of the result as one Uint8Array instead of Chunks. */
  assemble?: boolean;
}

/** A function that lives on the peer: one it passed as an argument or returned. */
export interface RemoteFunction<R = any> {
  (...args: any[]): Promise<R>;
  /** The function id the peer assigned. */
  readonly id: string;
  /** True once the handle can no longer be called. */
  readonly released: boolean;
  /** True once the peer evicted the function (its pending bound): calls still reach the peer, which answers -32004; unbind sends nothing. */
  readonly evicted: boolean;
  /** Runs the peer's function without waiting for it. */
  notify(...args: any[]): Promise<void>;
  /** The same function, its calls made with opts. */
  with(opts: CallOptions): (...args: any[]) => Promise<R>;
  /** Lets a handle received as an argument outlive the handler that got it. */
  keep(): void;
  /** Releases the handle and tells the peer to drop the function. */
  unbind(): Promise<void>;
}

/**
 * The peer's methods as properties: `remote.add(1, 2)` calls "add",
 * `remote.store.list()` calls "store.list". Reserved at the top level:
 * `noWait` (notifications), `$with(opts)`, `$call(method, ...args)`,
 * `$notify(method, ...args)`, `$conn`; `then` is never a method.
 */
export type Remote = {
  readonly noWait: Remote;
  $with(opts: CallOptions): Remote;
  $call<R = any>(method: string, ...args: any[]): Promise<R>;
  $notify(method: string, ...args: any[]): Promise<void>;
  readonly $conn: RpcConn;
} & { readonly [name: string]: RemoteMethod };

export type RemoteMethod = ((...args: any[]) => Promise<any>) & { readonly [name: string]: RemoteMethod };

/**
 * Local methods the peer may call: functions, possibly nested in objects
 * ("store.list" finds local.store.list). Names with a segment starting with
 * "_" are never callable. A method is called with its object as `this`; a
 * function passed to the peer as an argument gets a HandlerContext as `this`.
 */
export interface Local {
  [name: string]: ((...args: any[]) => any) | Local;
}

export interface HandlerContext {
  /** Aborted when the peer cancels the request or the connection closes. */
  signal: AbortSignal;
  conn: RpcConn;
  method: string;
}

/** A message transport under a BinChannel. */
export interface MessageTransport {
  maxMessageSize: number;
  /** Sends one message; it must not keep `message`, which is reused once the call (or its promise) is done. */
  send(message: Uint8Array): void | Promise<void>;
  close(): void;
  onmessage: ((message: Uint8Array | string) => void) | null;
  onclose: ((error?: Error) => void) | null;
}

export interface BinChannelOptions {
  /** Largest data bytes in one message, capped to maxMessageSize minus the header. Default 200000; over a data channel (connect, listen) 32 KiB: peerDefaults.chunkSize. */
  chunkSize?: number;
  /** Bound on one packet in either direction. Default 64 MiB. */
  maxPacketSize?: number;
  /** Bound on all half-received packets together. Default 128 MiB. */
  maxPendingBytes?: number;
  /** Bound on half-received packets. Default 64. */
  maxPendingPackets?: number;
  /** Milliseconds a half-received packet may wait for the rest. Default 30000. */
  pendingTTL?: number;
  /** Deliver multi-message binaries as one Uint8Array. */
  assemble?: boolean;
  /** Receives framing errors (malformed, oversized, expired packets). */
  onerror?: (err: Error) => void;
}

export interface Packet {
  json: string;
  bins: ReceivedBinary[];
}

/** Frames packets (JSON skeleton + binaries) over a message transport (PROTOCOL.md section 2). */
export class BinChannel {
  constructor(transport: MessageTransport, options?: BinChannelOptions);
  readonly maxMessageSize: number;
  readonly closed: boolean;
  onpacket: ((p: Packet) => void) | null;
  onerror: ((err: Error) => void) | null;
  onclose: ((err?: Error) => void) | null;
  sendPacket(json: string | Uint8Array, bins?: BinaryLike[]): Promise<void>;
  close(err?: Error): void;
}

export const binDefaults: Readonly<Required<Omit<BinChannelOptions, "assemble" | "onerror">>>;

export function dataChannelTransport(
  dc: RTCDataChannel,
  o?: { maxMessageSize?: number; high?: number; low?: number; onclose?: () => void },
): MessageTransport;
export function webSocketTransport(ws: WebSocket, o?: { maxMessageSize?: number; high?: number }): MessageTransport;

export interface RpcOptions {
  local?: Local;
  /** Default per-call timeout in ms; 0: none. */
  timeout?: number;
  /**
   * Bound on waiting calls plus stored functions. Default 10000. Past it the oldest entry is evicted
   * (PROTOCOL.md 3.9): a waiting call rejects with a PeerdError and the peer is sent rpc.cancel; a stored
   * function is dropped and the peer told with rpc.evicted, and a later call on it is answered -32004.
   */
  maxPending?: number;
  assemble?: boolean;
  /**
   * Let functions nested inside objects and arrays cross, both ways; the peer must enable it too
   * (PROTOCOL.md 3.9; Go: rpc.Options.NestedFuncs). Default false: only a function that is itself an
   * argument, or the whole result, is sent (a nested one is refused with a TypeError), and a nested
   * function placeholder received stays the plain object `{ $fn: id }`.
   */
  nestedFuncs?: boolean;
  onerror?: (err: Error) => void;
}

export interface RpcStats {
  waiting: number;
  callbacks: number;
  handles: number;
  running: number;
}

/** One end of an rpc pair (PROTOCOL.md sections 3 and 4). */
export class RpcConn {
  constructor(channel: BinChannel, options?: RpcOptions);
  readonly remote: Remote;
  readonly local: Local;
  readonly isClosed: boolean;
  /** Resolves with the cause once the connection is closed. */
  readonly closed: Promise<Error>;
  call<R = any>(method: string, params?: any[], opts?: CallOptions): Promise<R>;
  notify(method: string, params?: any[]): Promise<void>;
  /** Stops serving a local function passed to the peer; returns how many bindings were dropped. */
  unbind(fn: Function): number;
  stats(): RpcStats;
  close(reason?: string | Error): Promise<Error>;
}

export const rpcDefaults: Readonly<{ timeout: number; maxPending: number; assemble: boolean; nestedFuncs: boolean }>;

export interface Member {
  id: string;
  role: "publisher" | "subscriber" | string;
}

export interface JoinResult {
  id: string;
  room: string;
  role: string;
  peers: Member[];
}

export interface SignalingEvents {
  join: { peer: string; role: string };
  leave: { peer: string; reason: string };
  signal: { peer: string; payload: any };
  shutdown: {};
  close: { error: Error };
}

/** A connection to a peerd signaling server (PROTOCOL.md section 6). */
export class Signaling {
  static connect(url?: string, o?: { timeout?: number; maxMessageSize?: number }): Promise<Signaling>;
  readonly id: string | null;
  readonly room: string | null;
  readonly role: string | null;
  /** The other peers in our room and their roles, kept up to date by join and leave events. */
  readonly members: Map<string, string>;
  readonly rpc: RpcConn;
  readonly closed: Promise<Error>;
  on<K extends keyof SignalingEvents>(kind: K, fn: (ev: SignalingEvents[K]) => void): () => void;
  join(room: string, o?: { token?: string; role?: string }): Promise<JoinResult>;
  send(to: string, payload: unknown): Promise<void>;
  leave(): Promise<void>;
  close(): void;
}

/** A ws(s) URL for a signaling address: absolute, or relative to the page (default "/signal"). */
export function signalingURL(url?: string): string;

export const peerDefaults: Readonly<{
  label: string;
  maxMessageSize: number;
  /** Binary bytes per data channel message: 32 KiB. */
  chunkSize: number;
  high: number;
  low: number;
  connectTimeout: number;
  drainTimeout: number;
  disconnectTimeout: number;
}>;

export interface PeerOptions extends RpcOptions, Omit<BinChannelOptions, "onerror"> {
  /** Signaling server URL (default "/signal" on this page's host) or a connected Signaling. */
  signaling?: string | Signaling;
  /** Room to join. Default "public". */
  room?: string;
  token?: string;
  /** Role to join as. Default: connect "subscriber", listen "publisher" (none when a token is given). */
  role?: string;
  /** Milliseconds for the whole set-up. Default 20000. */
  connectTimeout?: number;
  signalingTimeout?: number;
  /** Data channel label. Default "peerd". */
  label?: string;
  /** Our cap on one data channel message. Default 262144. */
  maxMessageSize?: number;
  /** Backpressure: sends wait while more than high bytes are queued, until low. Defaults 4 MiB and 1 MiB. */
  high?: number;
  low?: number;
  /** Milliseconds a local close waits for queued data to be sent. Default 5000. */
  drainTimeout?: number;
  /** Milliseconds ICE may stay disconnected before the connection closes. Default 10000. */
  disconnectTimeout?: number;
  iceServers?: RTCIceServer[];
  rtcConfig?: RTCConfiguration;
}

export interface ConnectOptions extends PeerOptions {
  /** Peer id to dial. Default: the first publisher in the room, waiting for one to join. */
  peer?: string;
}

/** An open rpc pair over a data channel. */
export interface Pair {
  remote: Remote;
  local: Local;
  /** Closes: pending calls reject with ClosedError at once; resolves once queued data is delivered (at most drainTimeout) and the connection is closed. */
  close(reason?: string | Error): Promise<Error>;
  unbind(fn: Function): number;
  conn: RpcConn;
  /** The peer's signaling id. */
  peer: string;
  /** Our signaling id. */
  id: string;
  signaling: Signaling;
  pc: RTCPeerConnection;
  channel: RTCDataChannel;
  /** Largest message we send (pc.sctp.maxMessageSize capped by our own limit). */
  maxMessageSize: number;
  closed: Promise<Error>;
}

/** An open data channel without framing or rpc (the `raw` option). */
export interface RawLink {
  pc: RTCPeerConnection;
  channel: RTCDataChannel;
  peer: string;
  id: string;
  signaling: Signaling;
  maxMessageSize: number;
  close(reason?: string): Promise<Error>;
  closed: Promise<Error>;
}

/** Joins a room, dials a peer there and returns the rpc pair over the data channel. */
export function connect(o?: ConnectOptions & { raw?: false }): Promise<Pair>;
/** With raw: the open data channel alone. */
export function connect(o: ConnectOptions & { raw: true }): Promise<RawLink>;

export interface ListenOptions extends PeerOptions {
  /** Hand out open data channels alone, without framing or rpc. */
  raw?: boolean;
  onconnection?: (pair: Pair | RawLink) => void;
}

/** Joins a room and answers every peer that dials us. */
export function listen(o?: ListenOptions): Promise<{ id: string; signaling: Signaling; close(): void }>;

declare const peerd: {
  connect: typeof connect;
  listen: typeof listen;
  Signaling: typeof Signaling;
  RpcConn: typeof RpcConn;
  BinChannel: typeof BinChannel;
  Chunks: typeof Chunks;
  toBytes: typeof toBytes;
  isBinary: typeof isBinary;
};
export default peerd;
