// peerd.js: the browser side of peerd. One ES module, no build step, no
// dependencies. It speaks the wire formats of docs/PROTOCOL.md: the
// signaling client (section 6), RTCPeerConnection set-up with trickle ICE
// (section 5), the binchannel framing (section 2) and the rpc pair
// (sections 3 and 4).
//
//   import * as peerd from "/peerd.js";
//   const { remote, close } = await peerd.connect({ room: "public", local: { hello: (n) => `hi ${n}` } });
//   await remote.demo.add(1, 2);              // 3
//   await remote.demo.countdown(3, (i) => console.log(i));
//   remote.noWait.demo.echo("fire and forget");
//
// Binary values (ArrayBuffer, any ArrayBuffer view, Blob, Chunks) travel raw
// at any depth of arguments and results. A received binary that arrived in
// one message is a Uint8Array; a larger one is a Chunks (its list of
// pieces) unless the call or connection asks for `assemble: true`.

// ---------------------------------------------------------------- errors

/** Base class of every error this module raises. */
export class PeerdError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = "PeerdError";
  }
}

/** A JSON-RPC error object sent by the peer: code, message, data. */
export class RemoteError extends PeerdError {
  constructor(code, message, data) {
    super(`remote error ${code}: ${message}`);
    this.name = "RemoteError";
    this.code = code;
    this.remoteMessage = message;
    this.data = data;
  }
}

/** The connection closed before the call was answered, or was closed already. */
export class ClosedError extends PeerdError {
  constructor(message = "connection closed", options) {
    super(message, options);
    this.name = "ClosedError";
  }
}

/** A call's timeout expired before its response arrived. */
export class TimeoutError extends PeerdError {
  constructor(message) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** A function handle was released (unbind, the call that carried it returned, close). */
export class ReleasedError extends PeerdError {
  constructor(message) {
    super(message);
    this.name = "ReleasedError";
  }
}

/** JSON-RPC error codes used by peerd (PROTOCOL.md section 3). */
export const codes = Object.freeze({
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  serverError: -32000,
  cancelled: -32001,
  timeout: -32002,
  handleNotFound: -32003,
  handleEvicted: -32004,
  overloaded: -32005,
  connectionClosed: -32006,
});

// ---------------------------------------------------------------- binaries

/**
 * A binary value received in more than one message: its pieces, in order,
 * without copying. It reads like a Blob (size, arrayBuffer, stream, text)
 * and can be sent back as is.
 */
export class Chunks {
  constructor(chunks, size) {
    this.chunks = chunks;
    this.size = size;
    this._bytes = null;
  }
  get byteLength() {
    return this.size;
  }
  /** bytes returns one contiguous Uint8Array (a copy, made once). */
  bytes() {
    if (this._bytes) return this._bytes;
    if (this.chunks.length === 1) return (this._bytes = this.chunks[0]);
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return (this._bytes = out);
  }
  async arrayBuffer() {
    const b = this.bytes();
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer;
  }
  blob(type = "") {
    return new Blob(this.chunks, { type });
  }
  stream() {
    const chunks = this.chunks;
    let i = 0;
    return new ReadableStream({
      pull(ctrl) {
        if (i < chunks.length) ctrl.enqueue(chunks[i++]);
        else ctrl.close();
      },
    });
  }
  async text() {
    return new TextDecoder().decode(this.bytes());
  }
  [Symbol.iterator]() {
    return this.chunks[Symbol.iterator]();
  }
}

/** isBinary reports whether v travels as a raw binary. */
export function isBinary(v) {
  return (
    v instanceof ArrayBuffer ||
    ArrayBuffer.isView(v) ||
    v instanceof Chunks ||
    (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer) ||
    (typeof Blob !== "undefined" && v instanceof Blob)
  );
}

/** toBytes turns any binary value into one Uint8Array. */
export async function toBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof Chunks) return v.bytes();
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (typeof Blob !== "undefined" && v instanceof Blob) return new Uint8Array(await v.arrayBuffer());
  if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer)) {
    return new Uint8Array(v);
  }
  throw new TypeError("peerd: not a binary value");
}

// pieces returns the sendable pieces of a binary value (Uint8Array or
// Blob) and its size.
function pieces(v) {
  if (v instanceof Chunks) return { parts: v.chunks, size: v.size };
  if (typeof Blob !== "undefined" && v instanceof Blob) return { parts: [v], size: v.size };
  if (ArrayBuffer.isView(v)) {
    return { parts: [new Uint8Array(v.buffer, v.byteOffset, v.byteLength)], size: v.byteLength };
  }
  return { parts: [new Uint8Array(v)], size: v.byteLength };
}

// fill copies n bytes of a binary value, from offset off, into dst at at.
// Blob pieces are read asynchronously; the result is a promise only then.
function fill(src, off, dst, at, n) {
  let waits = null;
  for (const p of src.parts) {
    const len = p instanceof Uint8Array ? p.length : p.size;
    if (off >= len) {
      off -= len;
      continue;
    }
    const k = Math.min(len - off, n);
    if (p instanceof Uint8Array) {
      dst.set(p.subarray(off, off + k), at);
    } else {
      const where = at;
      const w = p
        .slice(off, off + k)
        .arrayBuffer()
        .then((ab) => dst.set(new Uint8Array(ab), where));
      (waits ||= []).push(w);
    }
    at += k;
    n -= k;
    off = 0;
    if (n === 0) break;
  }
  return waits ? Promise.all(waits) : undefined;
}

// ---------------------------------------------------------------- binchannel

const KIND_OPEN = 0x01;
const KIND_JSON = 0x02;
const KIND_BIN = 0x03;
const OPEN_HDR = 13; // kind u8, id u32, bins u32, skeleton length u32
const JSON_HDR = 9; // kind u8, id u32, skeleton offset u32
const BIN_HDR = 25; // kind u8, id u32, bin index u32, total u64, offset u64
const TWO32 = 2 ** 32;

/** Defaults of BinChannel options (the same as the Go side's). */
export const binDefaults = Object.freeze({
  chunkSize: 200000,
  maxPacketSize: 64 << 20,
  maxPendingBytes: 128 << 20,
  maxPendingPackets: 64,
  pendingTTL: 30000,
});

function putU64(dv, at, n) {
  dv.setUint32(at, Math.floor(n / TWO32));
  dv.setUint32(at + 4, n >>> 0);
}

function getU64(dv, at) {
  return dv.getUint32(at) * TWO32 + dv.getUint32(at + 4);
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/**
 * BinChannel frames packets (a JSON skeleton plus binary values) over a
 * message transport: an object with `maxMessageSize`, `send(Uint8Array)`
 * (which may return a promise to apply backpressure, and must not keep the
 * array: it is reused for the next message, as RTCDataChannel.send and
 * WebSocket.send copy it), `close()`, and the callbacks
 * `onmessage(Uint8Array)` and `onclose(error)` that the channel sets.
 * Packets are sent one after the other, each as a contiguous run of
 * messages.
 */
export class BinChannel {
  constructor(transport, options = {}) {
    this.t = transport;
    this.o = { ...binDefaults, ...options };
    this.onpacket = null; // ({ json: string, bins: (Uint8Array|Chunks)[] }) => void
    this.onerror = options.onerror || null;
    this.onclose = null;
    this.closed = false;
    this._id = 0;
    this._tail = Promise.resolve();
    this._pending = new Map(); // packet id -> half-received packet
    this._pendingBytes = 0;
    this._dropped = new Set(); // ids whose remaining messages are ignored
    this._timer = null;
    transport.onmessage = (m) => this._receive(m);
    transport.onclose = (err) => this._closed(err);
  }

  get maxMessageSize() {
    return this.t.maxMessageSize;
  }

  /** sendPacket queues a packet behind those already queued; it resolves once written. */
  sendPacket(json, bins = []) {
    if (this.closed) return Promise.reject(new ClosedError(this._reason()));
    const js = typeof json === "string" ? utf8.encode(json) : json;
    const srcs = bins.map(pieces);
    let total = js.length;
    for (const s of srcs) total += s.size;
    if (total > this.o.maxPacketSize) {
      return Promise.reject(new PeerdError(`peerd: packet of ${total} bytes exceeds ${this.o.maxPacketSize}`));
    }
    if (js.length >= TWO32) return Promise.reject(new PeerdError("peerd: skeleton too large"));
    const job = this._tail.then(() => this._write(js, srcs));
    this._tail = job.catch(() => {});
    return job;
  }

  async _write(js, srcs) {
    if (this.closed) throw new ClosedError(this._reason());
    const max = this.t.maxMessageSize;
    const cs = this.o.chunkSize;
    const openRoom = Math.min(cs, max - OPEN_HDR);
    const jsonRoom = Math.min(cs, max - JSON_HDR);
    const binRoom = Math.min(cs, max - BIN_HDR);
    if (binRoom < 1) throw new PeerdError(`peerd: max message size ${max} too small`);
    this._id = (this._id + 1) >>> 0 || 1;
    const id = this._id;

    let k = Math.min(js.length, openRoom);
    // When the whole skeleton fits, the first binary's first chunk rides in
    // the OPEN message (PROTOCOL.md 2.3).
    let first = -1;
    if (srcs.length > 0 && k === js.length) {
      const r = Math.min(cs, max - OPEN_HDR - k - BIN_HDR);
      if (r > 0 || (r === 0 && srcs[0].size === 0)) first = Math.min(r, srcs[0].size);
    }
    let m = this._buf(OPEN_HDR + k + (first >= 0 ? BIN_HDR + first : 0));
    let dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    dv.setUint8(0, KIND_OPEN);
    dv.setUint32(1, id);
    dv.setUint32(5, srcs.length);
    dv.setUint32(9, js.length);
    m.set(js.subarray(0, k), OPEN_HDR);
    if (first >= 0) {
      const at = OPEN_HDR + k;
      dv.setUint8(at, KIND_BIN);
      dv.setUint32(at + 1, id);
      dv.setUint32(at + 5, 0);
      putU64(dv, at + 9, srcs[0].size);
      putU64(dv, at + 17, 0);
      const w = fill(srcs[0], 0, m, at + BIN_HDR, first);
      if (w) await w;
    }
    await this.t.send(m);
    for (let off = k; off < js.length; off += k) {
      k = Math.min(js.length - off, jsonRoom);
      m = this._buf(JSON_HDR + k);
      dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
      dv.setUint8(0, KIND_JSON);
      dv.setUint32(1, id);
      dv.setUint32(5, off);
      m.set(js.subarray(off, off + k), JSON_HDR);
      await this.t.send(m);
    }
    for (let i = 0; i < srcs.length; i++) {
      const src = srcs[i];
      let off = 0;
      if (i === 0 && first >= 0) {
        if (first === src.size) continue; // all of it went with the OPEN
        off = first;
      }
      do {
        if (this.closed) throw new ClosedError(this._reason());
        k = Math.min(src.size - off, binRoom);
        m = this._buf(BIN_HDR + k);
        dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
        dv.setUint8(0, KIND_BIN);
        dv.setUint32(1, id);
        dv.setUint32(5, i);
        putU64(dv, 9, src.size);
        putU64(dv, 17, off);
        const w = fill(src, off, m, BIN_HDR, k);
        if (w) await w;
        await this.t.send(m);
        off += k;
      } while (off < src.size);
    }
  }

  // _buf returns a message buffer of n bytes. Messages are written one at a
  // time and transports copy them before send returns, so one scratch
  // buffer serves them all (no allocation per message).
  _buf(n) {
    if (!this._scratch || this._scratch.length < n) this._scratch = new Uint8Array(Math.max(n, 4096));
    return this._scratch.subarray(0, n);
  }

  _report(err) {
    if (this.onerror) {
      try {
        this.onerror(err);
      } catch (_) {
        /* a hook must not break the read path */
      }
    }
  }

  _drop(id, why) {
    const p = this._pending.get(id);
    if (p) {
      this._pending.delete(id);
      this._pendingBytes -= p.bytes;
    }
    this._dropped.add(id);
    if (this._dropped.size > 64) this._dropped.delete(this._dropped.values().next().value);
    this._report(new PeerdError(`peerd: binchannel: packet ${id}: ${why}`));
  }

  _receive(msg) {
    if (this.closed) return;
    if (!(msg instanceof Uint8Array)) {
      this._report(new PeerdError("peerd: binchannel: text message ignored"));
      return;
    }
    if (msg.length < 1) return this._report(new PeerdError("peerd: binchannel: empty message"));
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const kind = msg[0];
    const need = kind === KIND_OPEN ? OPEN_HDR : kind === KIND_JSON ? JSON_HDR : kind === KIND_BIN ? BIN_HDR : 0;
    if (need === 0) return this._report(new PeerdError(`peerd: binchannel: unknown kind ${kind}`));
    if (msg.length < need) return this._report(new PeerdError("peerd: binchannel: truncated header"));
    const id = dv.getUint32(1);
    const data = msg.subarray(need);
    const o = this.o;
    if (kind === KIND_OPEN) {
      if (this._pending.has(id)) this._drop(id, "reopened");
      this._dropped.delete(id);
      const nbins = dv.getUint32(5);
      const jsonLen = dv.getUint32(9);
      if (jsonLen > o.maxPacketSize) return this._drop(id, `skeleton of ${jsonLen} bytes over the limit`);
      if (data.length > jsonLen) {
        // Past a complete skeleton, only the packet's first BIN frame may follow.
        const rest = data.subarray(jsonLen);
        if (nbins === 0 || rest.length < BIN_HDR || rest[0] !== KIND_BIN || dv.getUint32(need + jsonLen + 1) !== id) {
          return this._drop(id, "skeleton longer than declared");
        }
        this._receive(msg.subarray(0, need + jsonLen));
        return this._receive(rest);
      }
      if (nbins === 0 && data.length === jsonLen) return this._deliver(id, [data], jsonLen, []);
      const cost = need + data.length;
      if (this._pending.size >= o.maxPendingPackets || this._pendingBytes + cost > o.maxPendingBytes) {
        return this._drop(id, "too many pending packets");
      }
      const p = {
        nbins,
        jsonLen,
        jsonGot: data.length,
        json: data.length ? [data] : [],
        bins: [],
        cur: [],
        curTotal: 0,
        curGot: 0,
        started: false,
        claimed: jsonLen,
        bytes: cost,
        deadline: Date.now() + o.pendingTTL,
      };
      this._pending.set(id, p);
      this._pendingBytes += cost;
      this._armTimer();
      return;
    }
    const p = this._pending.get(id);
    if (!p) {
      if (!this._dropped.has(id)) this._report(new PeerdError(`peerd: binchannel: message for unknown packet ${id}`));
      return;
    }
    if (this._pendingBytes + need + data.length > o.maxPendingBytes) return this._drop(id, "pending bytes over the limit");
    p.bytes += need + data.length;
    this._pendingBytes += need + data.length;
    if (kind === KIND_JSON) {
      const off = dv.getUint32(5);
      if (off !== p.jsonGot) return this._drop(id, "skeleton out of order");
      if (data.length === 0 || data.length > p.jsonLen - p.jsonGot) return this._drop(id, "bad skeleton length");
      p.json.push(data);
      p.jsonGot += data.length;
      return this._maybeComplete(id, p);
    }
    const index = dv.getUint32(5);
    const total = getU64(dv, 9);
    const off = getU64(dv, 17);
    if (p.jsonGot < p.jsonLen) return this._drop(id, "binary before skeleton end");
    if (index !== p.bins.length || index >= p.nbins) return this._drop(id, `binary ${index} out of order`);
    if (p.started ? total !== p.curTotal || off !== p.curGot : off !== 0) return this._drop(id, "binary chunk out of order");
    if ((data.length === 0 && total !== 0) || data.length > total - off) return this._drop(id, "bad binary length");
    if (!p.started) {
      if (total > o.maxPacketSize - p.claimed) return this._drop(id, "packet over the size limit");
      p.started = true;
      p.curTotal = total;
      p.claimed += total;
    }
    if (data.length) p.cur.push(data);
    p.curGot += data.length;
    if (p.curGot < p.curTotal) return;
    const chunks = p.cur;
    p.cur = [];
    p.bins.push(
      chunks.length === 0 ? new Uint8Array(0) : chunks.length === 1 ? chunks[0] : new Chunks(chunks, p.curTotal),
    );
    p.started = false;
    p.curTotal = p.curGot = 0;
    this._maybeComplete(id, p);
  }

  _maybeComplete(id, p) {
    if (p.jsonGot < p.jsonLen || p.bins.length < p.nbins) return;
    this._pending.delete(id);
    this._pendingBytes -= p.bytes;
    this._deliver(id, p.json, p.jsonLen, p.bins);
  }

  _deliver(id, parts, len, bins) {
    let js;
    if (parts.length === 1) js = parts[0];
    else {
      js = new Uint8Array(len);
      let at = 0;
      for (const x of parts) {
        js.set(x, at);
        at += x.length;
      }
    }
    if (this.o.assemble) bins = bins.map((b) => (b instanceof Chunks ? b.bytes() : b));
    if (!this.onpacket) return;
    try {
      this.onpacket({ json: utf8d.decode(js), bins });
    } catch (e) {
      this._report(e);
    }
  }

  _armTimer() {
    if (this._timer || !(this.o.pendingTTL > 0)) return;
    this._timer = setTimeout(() => {
      this._timer = null;
      const now = Date.now();
      for (const [id, p] of this._pending) if (p.deadline <= now) this._drop(id, "expired");
      if (this._pending.size) this._armTimer();
    }, Math.min(this.o.pendingTTL, 5000));
  }

  _reason() {
    return this._closeErr ? this._closeErr.message : "connection closed";
  }

  _closed(err) {
    if (this.closed) return;
    this.closed = true;
    this._closeErr = err || null;
    clearTimeout(this._timer);
    this._pending.clear();
    this._pendingBytes = 0;
    if (this.onclose) this.onclose(err);
  }

  /** close closes the transport; queued packets fail. */
  close(err) {
    if (this.closed) return;
    this._closed(err);
    try {
      this.t.close();
    } catch (_) {
      /* already gone */
    }
  }
}

// ---------------------------------------------------------------- transports

/**
 * dataChannelTransport adapts an open RTCDataChannel. Sends wait while more
 * than `high` bytes are queued in the channel and resume on the
 * bufferedamountlow event at `low`, so a large upload never overfills
 * Chrome's send queue (which closes the channel at 16 MiB). close() calls
 * `onclose` when given (a graceful close), else closes the channel.
 */
export function dataChannelTransport(dc, { maxMessageSize = 65535, high = 4 << 20, low = 1 << 20, onclose = null } = {}) {
  dc.binaryType = "arraybuffer";
  dc.bufferedAmountLowThreshold = low;
  let wake = null;
  const t = {
    maxMessageSize,
    onmessage: null,
    onclose: null,
    async send(m) {
      while (dc.bufferedAmount > high) {
        if (dc.readyState !== "open") break;
        await new Promise((resolve) => (wake = resolve));
      }
      if (dc.readyState !== "open") throw new ClosedError("data channel closed");
      dc.send(m);
    },
    close() {
      if (onclose) onclose();
      else dc.close();
    },
  };
  const kick = () => {
    const w = wake;
    wake = null;
    if (w) w();
  };
  dc.addEventListener("bufferedamountlow", kick);
  dc.addEventListener("message", (e) => {
    // A text message counts as its UTF-8 bytes (PROTOCOL.md 5.2).
    if (t.onmessage) t.onmessage(typeof e.data === "string" ? utf8.encode(e.data) : new Uint8Array(e.data));
  });
  dc.addEventListener("close", () => {
    kick();
    if (t.onclose) t.onclose(new ClosedError("data channel closed"));
  });
  return t;
}

/** webSocketTransport adapts an open WebSocket: one binchannel message per binary frame. */
export function webSocketTransport(ws, { maxMessageSize = 65536, high = 1 << 20 } = {}) {
  ws.binaryType = "arraybuffer";
  const t = {
    maxMessageSize,
    onmessage: null,
    onclose: null,
    async send(m) {
      while (ws.bufferedAmount > high && ws.readyState === WebSocket.OPEN) {
        await new Promise((r) => setTimeout(r, 5));
      }
      if (ws.readyState !== WebSocket.OPEN) throw new ClosedError("websocket closed");
      ws.send(m);
    },
    close() {
      ws.close(1000);
    },
  };
  ws.addEventListener("message", (e) => {
    if (!t.onmessage) return;
    if (typeof e.data === "string") t.onmessage(utf8.encode(e.data));
    else if (e.data.byteLength > maxMessageSize) ws.close(1009, "message too big");
    else t.onmessage(new Uint8Array(e.data));
  });
  ws.addEventListener("close", (e) => {
    if (t.onclose) t.onclose(new ClosedError(`websocket closed (${e.code}${e.reason ? " " + e.reason : ""})`));
  });
  return t;
}

// ---------------------------------------------------------------- rpc

const HANDLE = Symbol("peerd.handle");

// The JSON-RPC error object for a thrown value.
function errorObject(e) {
  if (e instanceof RemoteError) return { code: e.code, message: e.remoteMessage, data: e.data };
  if (e instanceof TimeoutError) return { code: codes.timeout, message: e.message };
  if (e && typeof e === "object" && Number.isInteger(e.code)) {
    const o = { code: e.code, message: String(e.message ?? "error") };
    if (e.data !== undefined) o.data = e.data;
    return o;
  }
  return { code: codes.serverError, message: e instanceof Error ? e.message : String(e) };
}

// lookupLocal finds a method by its dotted name: own properties only, no
// segment starting with "_".
function lookupLocal(local, name) {
  if (!local || typeof name !== "string" || name === "") return null;
  if (Object.hasOwn(local, name) && typeof local[name] === "function" && !name.startsWith("_")) {
    return { fn: local[name], self: local };
  }
  const segs = name.split(".");
  let obj = local;
  let self = local;
  for (const s of segs) {
    if (s === "" || s.startsWith("_") || obj == null || (typeof obj !== "object" && typeof obj !== "function")) return null;
    if (!Object.hasOwn(obj, s)) {
      // Methods of class instances live on the prototype: allow them,
      // but never Object.prototype's.
      if (typeof obj !== "object" || !(s in obj) || s in Object.prototype) return null;
    }
    self = obj;
    obj = obj[s];
  }
  return typeof obj === "function" ? { fn: obj, self } : null;
}

function listLocal(local, prefix = "", out = [], depth = 0) {
  if (!local || depth > 8) return out;
  for (const k of Object.keys(local)) {
    if (k.startsWith("_")) continue;
    const v = local[k];
    if (typeof v === "function") out.push(prefix + k);
    else if (v && typeof v === "object" && !isBinary(v)) listLocal(v, prefix + k + ".", out, depth + 1);
  }
  return out;
}

/** Defaults of RpcConn options. */
export const rpcDefaults = Object.freeze({ timeout: 0, maxPending: 10000, assemble: false, nestedFuncs: false });

/**
 * RpcConn is one end of an rpc pair over a BinChannel (or anything with
 * sendPacket(json, bins), onpacket, onclose and close). Both ends are
 * equal: it serves `local` to the peer and calls the peer's methods.
 */
export class RpcConn {
  constructor(channel, { local = {}, timeout = 0, maxPending = 10000, assemble = false, nestedFuncs = false, onerror = null } = {}) {
    this.ch = channel;
    this.local = local;
    this.o = { timeout, maxPending, assemble, nestedFuncs: !!nestedFuncs };
    this.onerror = onerror;
    this._seq = 0;
    this._calls = new Map(); // call id -> { resolve, reject, timer, cbs, method, assemble }
    this._cbs = new Map(); // function id -> { fn, scope }
    this._handles = new Set(); // live handles to the peer's functions
    this._inflight = new Map(); // raw request id -> AbortController
    this._evicted = new Set(); // ids of recently evicted functions
    this._peerEvicted = new Set(); // ids the peer evicted that we held no handle to
    this._ord = 0; // insertion order of pending entries (calls and stored functions)
    this._closeErr = null;
    this.closed = new Promise((resolve) => (this._resolveClosed = resolve));
    this.remote = makeRemote(this, "", {});
    channel.onpacket = (p) => this._packet(p);
    channel.onclose = (err) => this._shutdown(err || new ClosedError());
  }

  get isClosed() {
    return this._closeErr !== null;
  }

  _report(err) {
    if (this.onerror) {
      try {
        this.onerror(err);
      } catch (_) {
        /* ignore */
      }
    }
  }

  // _encode serialises v, storing the functions it meets (scoped to the
  // call scope, 0 for none) and collecting binaries. v is a params array
  // (params true), whose elements are the parameters, or a result. Unless
  // nestedFuncs is on, only a function that is itself a parameter or the
  // whole result is sent; one nested deeper is refused (PROTOCOL.md 3.9).
  _encode(v, scope, bins, cbs, params = false) {
    const conn = this;
    const nested = this.o.nestedFuncs;
    let wrapper = null; // the holder JSON.stringify makes around v
    const s = JSON.stringify(v, function (k, x) {
      if (wrapper === null) wrapper = this;
      if (typeof x === "function") {
        if (x[HANDLE]) throw new TypeError("peerd: a remote function handle cannot be sent back; call it instead");
        if (!nested && this !== (params ? v : wrapper)) {
          throw new TypeError(
            `peerd: function ${JSON.stringify(k)} is nested inside ${params ? "an argument" : "the result"}: ` +
              "only a function that is itself an argument or the whole result can be sent, unless both peers enable nestedFuncs",
          );
        }
        const id = conn._store(x, scope);
        cbs.push(id);
        return { $fn: id };
      }
      if (x !== null && typeof x === "object" && isBinary(x)) {
        bins.push(x);
        return { $bin: bins.length - 1 };
      }
      if (typeof x === "bigint") return Number(x);
      return x;
    });
    return s === undefined ? "null" : s;
  }

  _store(fn, scope) {
    const id = String(++this._seq);
    this._cbs.set(id, { fn, scope, ord: ++this._ord });
    this._evict();
    return id;
  }

  // _evict drops the oldest pending entries (waiting calls and stored
  // functions) past the pending bound (PROTOCOL.md 3.9): a waiting call
  // fails locally and the peer is sent rpc.cancel for it; a stored
  // function is dropped and announced with rpc.evicted (section 4.6), so
  // that the peer drops its handles too, and a later rpc.callback on it is
  // answered -32004 (the last 1024 are remembered). Both maps keep their
  // entries in insertion order, so the oldest is the first of one of them.
  _evict() {
    let fns = null;
    while (this._cbs.size + this._calls.size > this.o.maxPending) {
      const cb = this._cbs.entries().next().value;
      const cl = this._calls.entries().next().value;
      if (cb && (!cl || cb[1].ord < cl[1].ord)) {
        const id = cb[0];
        this._cbs.delete(id);
        this._evicted.add(id);
        if (this._evicted.size > 1024) this._evicted.delete(this._evicted.values().next().value);
        (fns ||= []).push(id);
      } else {
        const [id, call] = cl;
        this._giveUp(id, new PeerdError(`peerd: ${call.method}: evicted: more than maxPending (${this.o.maxPending}) calls and functions were pending`));
      }
    }
    if (fns && !this._closeErr) this.notify("rpc.evicted", fns).catch(() => {});
  }

  // _peerEvictedIds drops our handles to functions the peer evicted
  // (rpc.evicted). Calls on such a handle still reach the peer, which
  // answers as for an evicted function; unbinding it sends nothing. An id
  // we hold no handle to is remembered (the last 1024): the placeholder
  // carrying it may still be on its way, and its handle starts out evicted.
  _peerEvictedIds(ids) {
    const want = new Set(ids);
    for (const h of this._handles) {
      if (want.has(h.id)) {
        h.evicted = true;
        this._handles.delete(h);
        want.delete(h.id);
      }
    }
    for (const id of want) {
      this._peerEvicted.add(id);
      if (this._peerEvicted.size > 1024) this._peerEvicted.delete(this._peerEvicted.values().next().value);
    }
  }

  // _revive replaces placeholders in a decoded value: {"$bin":N} by the
  // packet's binary N, {"$fn":"id"} by a handle. A function placeholder
  // deeper than top (0: v is a result, 1: v is a params array, 2: the
  // array around named params) is converted only with nestedFuncs on, and
  // otherwise stays a plain object (PROTOCOL.md 3.9). Own data properties
  // only are written, so "__proto__" members stay plain data.
  _revive(v, bins, scope, top, depth = 0) {
    if (v === null || typeof v !== "object") return v;
    if (depth > 256) throw new RemoteError(codes.invalidParams, "value nested too deeply");
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = this._revive(v[i], bins, scope, top, depth + 1);
      return v;
    }
    const keys = Object.keys(v);
    if (keys.length === 1) {
      if (keys[0] === "$bin" && Number.isInteger(v.$bin)) {
        if (v.$bin < 0 || v.$bin >= bins.length) throw new RemoteError(codes.invalidParams, `placeholder names missing binary ${v.$bin}`);
        return bins[v.$bin];
      }
      if (keys[0] === "$fn" && typeof v.$fn === "string" && (depth <= top || this.o.nestedFuncs)) return this._handle(v.$fn, scope);
    }
    for (const k of keys) {
      const old = v[k];
      const nv = this._revive(old, bins, scope, top, depth + 1);
      if (nv !== old) Object.defineProperty(v, k, { value: nv, writable: true, enumerable: true, configurable: true });
    }
    return v;
  }

  // _handle makes a callable proxy for the peer's function id. scope, when
  // set, collects handles released when a handler returns.
  _handle(id, scope) {
    const conn = this;
    const h = (...args) => {
      if (h.released) return Promise.reject(new ReleasedError(`peerd: function ${id} released`));
      return conn.call("rpc.callback", [id, ...args], h._opts);
    };
    h[HANDLE] = true;
    h.id = id;
    h.released = false;
    h.kept = false;
    h.evicted = this._peerEvicted.has(id); // the owner evicted it while sending it
    h._opts = {};
    h._inCall = scope ? !scope.notification : false;
    /** notify runs the peer's function without waiting for it. */
    h.notify = (...args) => {
      if (h.released) return Promise.reject(new ReleasedError(`peerd: function ${id} released`));
      return conn.notify("rpc.callback", [id, ...args]);
    };
    /** with returns a handle to the same function whose calls use opts ({timeout, assemble, signal}). */
    h.with = (opts) => {
      const g = (...args) => (h.released ? Promise.reject(new ReleasedError(`peerd: function ${id} released`)) : conn.call("rpc.callback", [id, ...args], opts));
      g.unbind = h.unbind;
      return g;
    };
    /** keep lets a handle received as an argument outlive the handler. */
    h.keep = () => {
      if (h.released || h.kept) return;
      h.kept = true;
      if (h._inCall && !h.evicted) conn.notify("rpc.keep", [id]).catch(() => {});
    };
    /** unbind releases the handle and tells the peer to drop its function (unless the peer evicted it). */
    h.unbind = () => {
      if (h.released) return Promise.resolve();
      h.released = true;
      conn._handles.delete(h);
      return conn.isClosed || h.evicted ? Promise.resolve() : conn.notify("rpc.unbind", [id]).catch(() => {});
    };
    if (!h.evicted) this._handles.add(h);
    if (scope) scope.handles.push(h);
    return h;
  }

  /**
   * call calls the peer's method with positional params. opts: timeout
   * (ms, 0 none), signal (AbortSignal), assemble (binaries as one
   * Uint8Array each).
   */
  call(method, params = [], opts = {}) {
    if (this._closeErr) return Promise.reject(new ClosedError(this._closeErr.message, { cause: this._closeErr }));
    const id = ++this._seq;
    const bins = [];
    const cbs = [];
    let text;
    try {
      text = `{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${this._encode(params, id, bins, cbs, true)},"id":${id}}`;
    } catch (e) {
      for (const c of cbs) this._cbs.delete(c);
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const cl = { resolve, reject, cbs, method, assemble: opts.assemble ?? this.o.assemble, timer: null, abort: null, ord: ++this._ord };
      this._calls.set(id, cl);
      const timeout = opts.timeout ?? this.o.timeout;
      if (timeout > 0) {
        cl.timer = setTimeout(() => this._giveUp(id, new TimeoutError(`peerd: ${method} timed out after ${timeout} ms`)), timeout);
      }
      if (opts.signal) {
        if (opts.signal.aborted) return this._giveUp(id, opts.signal.reason ?? new PeerdError("aborted"));
        cl.abort = () => this._giveUp(id, opts.signal.reason ?? new PeerdError("aborted"));
        opts.signal.addEventListener("abort", cl.abort, { once: true });
        cl.signal = opts.signal;
      }
      this._evict();
      if (!this._calls.has(id)) return; // evicted at once (a bound of 0)
      this.ch.sendPacket(text, bins).catch((e) => {
        if (this._calls.has(id)) this._finish(id, cl).reject(e instanceof PeerdError ? e : new PeerdError(`peerd: sending ${method}: ${e.message}`, { cause: e }));
      });
    });
  }

  // _finish forgets a call and its scoped functions.
  _finish(id, cl) {
    this._calls.delete(id);
    clearTimeout(cl.timer);
    if (cl.abort) cl.signal.removeEventListener("abort", cl.abort);
    for (const c of cl.cbs) {
      const cb = this._cbs.get(c);
      if (cb && cb.scope === id) this._cbs.delete(c);
    }
    return cl;
  }

  _giveUp(id, err) {
    const cl = this._calls.get(id);
    if (!cl) return;
    this._finish(id, cl).reject(err);
    this.notify("rpc.cancel", [id]).catch(() => {});
  }

  /** notify sends a notification: the peer runs method and answers nothing. */
  notify(method, params = []) {
    if (this._closeErr) return Promise.reject(new ClosedError(this._closeErr.message, { cause: this._closeErr }));
    const bins = [];
    const cbs = [];
    let text;
    try {
      text = `{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${this._encode(params, 0, bins, cbs, true)}}`;
    } catch (e) {
      for (const c of cbs) this._cbs.delete(c);
      return Promise.reject(e);
    }
    return this.ch.sendPacket(text, bins).catch((e) => {
      for (const c of cbs) this._cbs.delete(c);
      throw e;
    });
  }

  /** unbind stops serving a local function that was passed to the peer. */
  unbind(fn) {
    let n = 0;
    for (const [id, cb] of this._cbs) {
      if (cb.fn === fn) {
        this._cbs.delete(id);
        n++;
      }
    }
    return n;
  }

  /** stats counts live state: waiting calls, stored functions, live handles, running handlers. */
  stats() {
    return { waiting: this._calls.size, callbacks: this._cbs.size, handles: this._handles.size, running: this._inflight.size };
  }

  _packet(p) {
    let env;
    try {
      env = JSON.parse(p.json);
    } catch (_) {
      this._report(new PeerdError("peerd: rpc: unparsable message"));
      this._send({ jsonrpc: "2.0", error: { code: codes.parseError, message: "Parse error" }, id: null });
      return;
    }
    if (Array.isArray(env)) {
      if (env.length === 0 || env.length > 1000) {
        this._send({ jsonrpc: "2.0", error: { code: codes.invalidRequest, message: "Invalid Request" }, id: null });
        return;
      }
      const batch = { out: [], bins: [], waiting: 1 };
      for (const m of env) this._message(m, p.bins, batch);
      this._batchDone(batch);
      return;
    }
    this._message(env, p.bins, null);
  }

  _message(m, bins, batch) {
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      if (batch) batch.waiting++;
      this._reply(batch, { jsonrpc: "2.0", error: { code: codes.invalidRequest, message: "Invalid Request" }, id: null });
      return;
    }
    const hasId = Object.hasOwn(m, "id");
    if (typeof m.method === "string") {
      this._request(m, bins, batch, hasId);
      return;
    }
    if (hasId && (Object.hasOwn(m, "result") || Object.hasOwn(m, "error"))) {
      this._response(m, bins);
      return;
    }
    this._report(new PeerdError("peerd: rpc: invalid message"));
    if (batch) batch.waiting++;
    const id = hasId && (typeof m.id === "string" || typeof m.id === "number") ? m.id : null;
    this._reply(batch, { jsonrpc: "2.0", error: { code: codes.invalidRequest, message: "Invalid Request" }, id });
  }

  _response(m, bins) {
    const id = typeof m.id === "number" ? m.id : Number(m.id);
    const cl = this._calls.get(id);
    if (!cl) {
      this._report(new PeerdError(`peerd: rpc: response for unknown id ${m.id}`));
      return;
    }
    this._finish(id, cl);
    if (m.error != null) {
      const e = m.error;
      cl.reject(new RemoteError(Number.isInteger(e.code) ? e.code : codes.internalError, String(e.message ?? ""), e.data));
      return;
    }
    try {
      const bs = cl.assemble ? bins.map((b) => (b instanceof Chunks ? b.bytes() : b)) : bins;
      cl.resolve(this._revive(m.result, bs, null, 0));
    } catch (e) {
      cl.reject(e);
    }
  }

  async _request(m, bins, batch, hasId) {
    const notification = !hasId;
    const reply = (result, error) => {
      if (notification) return;
      if (error) this._reply(batch, { jsonrpc: "2.0", error, id: m.id });
      else this._reply(batch, null, m.id, result);
    };
    if (batch && !notification) batch.waiting++;
    const params = m.params === undefined || m.params === null ? [] : m.params;
    if (typeof params !== "object") {
      reply(undefined, { code: codes.invalidRequest, message: "Invalid Request" });
      return;
    }
    const method = m.method;
    if (method.startsWith("rpc.")) {
      const ids = Array.isArray(params) ? params : [];
      switch (method) {
        case "rpc.cancel":
          for (const x of ids) this._inflight.get(JSON.stringify(x))?.abort(new RemoteError(codes.cancelled, "Request cancelled"));
          return reply(null);
        case "rpc.unbind":
          for (const x of ids) this._cbs.delete(String(x));
          return reply(null);
        case "rpc.keep":
          for (const x of ids) {
            const cb = this._cbs.get(String(x));
            if (cb) cb.scope = 0;
          }
          return reply(null);
        case "rpc.evicted":
          this._peerEvictedIds(ids.map(String));
          return reply(null);
        case "rpc.discover":
          return reply({
            openrpc: "1.2.6",
            info: { title: "peerd browser peer", version: "1" },
            methods: listLocal(this.local).map((name) => ({ name, params: [] })),
          });
        case "rpc.callback": {
          if (!Array.isArray(params) || typeof params[0] !== "string") {
            return reply(undefined, { code: codes.invalidParams, message: 'Invalid params: want ["<function id>", args...]' });
          }
          const fid = params[0];
          const cb = this._cbs.get(fid);
          if (!cb && this._evicted.has(fid)) return reply(undefined, { code: codes.handleEvicted, message: `Function handle evicted: ${fid}` });
          if (!cb) return reply(undefined, { code: codes.handleNotFound, message: `Function handle not found: ${fid}` });
          return this._run(m, cb.fn, undefined, params.slice(1), bins, notification, reply);
        }
        default:
          return reply(undefined, { code: codes.methodNotFound, message: "Method not found" });
      }
    }
    const found = lookupLocal(this.local, method);
    if (!found) return reply(undefined, { code: codes.methodNotFound, message: "Method not found" });
    if (!Array.isArray(params)) {
      // Named params: handed to the function as one object.
      return this._run(m, found.fn, found.self, [params], bins, notification, reply, 2);
    }
    return this._run(m, found.fn, found.self, params, bins, notification, reply);
  }

  // _run runs a local function on decoded args; top is 1 for positional
  // params, 2 for named ones (args is then [params]).
  async _run(m, fn, self, args, bins, notification, reply, top = 1) {
    const scope = { notification, handles: [] };
    const ac = new AbortController();
    const key = notification ? null : JSON.stringify(m.id);
    if (key !== null) this._inflight.set(key, ac);
    let result;
    let error = null;
    try {
      const decoded = this._revive(args, bins, scope, top);
      const ctx = { signal: ac.signal, conn: this, method: m.method };
      result = await fn.apply(self === undefined ? ctx : self, decoded);
    } catch (e) {
      error = e;
    } finally {
      if (key !== null) this._inflight.delete(key);
    }
    const released = [];
    for (const h of scope.handles) {
      if (!h.kept && !h.released) {
        h.released = true;
        this._handles.delete(h);
        if (!h.evicted) released.push(h.id);
      }
    }
    if (notification) {
      if (released.length && !this._closeErr) this.notify("rpc.unbind", released).catch(() => {});
      if (error) this._report(error);
      return;
    }
    if (error) {
      reply(undefined, errorObject(error));
      return;
    }
    reply(result === undefined ? null : result);
  }

  // _reply sends (or adds to a batch) a response: a ready object, or a
  // result to encode for id.
  _reply(batch, obj, id, result) {
    const bins = batch ? batch.bins : [];
    let text;
    if (obj) text = JSON.stringify(obj);
    else {
      const cbs = [];
      try {
        text = `{"jsonrpc":"2.0","result":${this._encode(result, 0, bins, cbs)},"id":${JSON.stringify(id)}}`;
      } catch (e) {
        for (const c of cbs) this._cbs.delete(c);
        text = JSON.stringify({ jsonrpc: "2.0", error: { code: codes.internalError, message: `Internal error: encoding result: ${e.message}` }, id });
      }
    }
    if (!batch) {
      this._sendText(text, bins);
      return;
    }
    batch.out.push(text);
    this._batchDone(batch);
  }

  _batchDone(batch) {
    if (--batch.waiting > 0) return;
    if (batch.out.length) this._sendText(`[${batch.out.join(",")}]`, batch.bins);
  }

  _send(obj) {
    this._sendText(JSON.stringify(obj), []);
  }

  _sendText(text, bins) {
    if (this._closeErr) return;
    this.ch.sendPacket(text, bins).catch((e) => this._report(e));
  }

  _shutdown(err) {
    if (this._closeErr) return;
    this._closeErr = err;
    const calls = [...this._calls.entries()];
    for (const [id, cl] of calls) this._finish(id, cl).reject(new ClosedError(`peerd: ${cl.method}: ${err.message}`, { cause: err }));
    this._cbs.clear();
    for (const h of this._handles) h.released = true;
    this._handles.clear();
    for (const ac of this._inflight.values()) ac.abort(new ClosedError(err.message));
    this._inflight.clear();
    this._resolveClosed(err);
  }

  /** close closes the connection: pending calls reject with ClosedError. */
  close(reason = "closed by this side") {
    const err = reason instanceof Error ? reason : new ClosedError(String(reason));
    this._shutdown(err);
    this.ch.close(err);
    return this.closed;
  }
}

// makeRemote builds the proxy that turns property paths into calls:
// remote.store.list() calls "store.list". At the top level, noWait gives a
// proxy that sends notifications, $with(opts) one whose calls use opts,
// and $call / $notify take a method name. "then" is never a method, so a
// proxy is not mistaken for a promise.
function makeRemote(conn, prefix, opts) {
  const cache = new Map();
  const target = function () {};
  return new Proxy(target, {
    get(_t, key) {
      if (typeof key !== "string" || key === "then") return undefined;
      if (prefix === "") {
        if (key === "noWait") return makeRemote(conn, "", { ...opts, notify: true });
        if (key === "$with") return (o) => makeRemote(conn, "", { ...opts, ...o });
        if (key === "$call") return (method, ...args) => conn.call(method, args, opts);
        if (key === "$notify") return (method, ...args) => conn.notify(method, args);
        if (key === "$conn") return conn;
      }
      let p = cache.get(key);
      if (!p) {
        p = makeRemote(conn, prefix ? `${prefix}.${key}` : key, opts);
        cache.set(key, p);
      }
      return p;
    },
    apply(_t, _this, args) {
      if (!prefix) return Promise.reject(new TypeError("peerd: call a method of remote, not remote itself"));
      return opts.notify ? conn.notify(prefix, args) : conn.call(prefix, args, opts);
    },
  });
}

// ---------------------------------------------------------------- signaling

// Emitter is a tiny event emitter: on(kind, fn) returns an "off" function.
class Emitter {
  constructor() {
    this._on = new Map();
  }
  on(kind, fn) {
    let s = this._on.get(kind);
    if (!s) this._on.set(kind, (s = new Set()));
    s.add(fn);
    return () => s.delete(fn);
  }
  _emit(kind, ev) {
    const s = this._on.get(kind);
    if (!s) return;
    for (const fn of [...s]) {
      try {
        fn(ev);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

// signalingURL resolves a signaling address: absolute ws(s) or http(s)
// URLs, or a path relative to the page; the default is /signal.
export function signalingURL(url) {
  const base = typeof location !== "undefined" ? location.href : "http://localhost/";
  const u = new URL(url || "/signal", base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u.href;
}

function withTimeout(promise, ms, what) {
  if (!(ms > 0)) return promise;
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new TimeoutError(`peerd: ${what} timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Signaling is a connection to a peerd signaling server (rpc over
 * binchannel over WebSocket). Events: "join" {peer, role}, "leave" {peer,
 * reason}, "signal" {peer, payload}, "shutdown" {}, "close" {error}.
 */
export class Signaling extends Emitter {
  /** connect opens a WebSocket to url (default: /signal on this page's host). */
  static async connect(url, { timeout = 10000, maxMessageSize = 65536 } = {}) {
    const ws = new WebSocket(signalingURL(url));
    ws.binaryType = "arraybuffer";
    await withTimeout(
      new Promise((resolve, reject) => {
        ws.addEventListener("open", resolve, { once: true });
        ws.addEventListener("error", () => reject(new PeerdError(`peerd: cannot reach signaling server ${ws.url}`)), { once: true });
      }),
      timeout,
      "signaling connect",
    ).catch((e) => {
      ws.close();
      throw e;
    });
    return new Signaling(ws, { timeout, maxMessageSize });
  }

  constructor(ws, { timeout = 10000, maxMessageSize = 65536 } = {}) {
    super();
    this.ws = ws;
    this.id = null;
    this.room = null;
    this.role = null;
    /** members maps the ids of the other peers in our room to their roles. */
    this.members = new Map();
    this.timeout = timeout;
    this._seq = 0;
    const ch = new BinChannel(webSocketTransport(ws, { maxMessageSize }), {
      maxPacketSize: maxMessageSize,
      maxPendingBytes: 2 * maxMessageSize,
      maxPendingPackets: 2,
    });
    this.rpc = new RpcConn(ch, { local: { signal: { event: (ev) => this._event(ev) } } });
    this.closed = this.rpc.closed.then((err) => {
      this._emit("close", { error: err });
      return err;
    });
  }

  _event(ev) {
    if (!ev || typeof ev !== "object" || typeof ev.kind !== "string") return;
    if (typeof ev.seq === "number") {
      if (ev.seq <= this._seq) return; // duplicate
      this._seq = ev.seq;
    }
    switch (ev.kind) {
      case "join":
        this.members.set(ev.peer, ev.role);
        this._emit("join", { peer: ev.peer, role: ev.role });
        break;
      case "leave":
        this.members.delete(ev.peer);
        this._emit("leave", { peer: ev.peer, reason: ev.reason });
        break;
      case "signal":
        this._emit("signal", { peer: ev.peer, payload: ev.payload });
        break;
      case "shutdown":
        this._emit("shutdown", {});
        break;
      default:
        this._emit(ev.kind, ev);
    }
  }

  /** join joins room: the result lists our id and the peers already there. */
  async join(room, { token, role } = {}) {
    const p = { room };
    if (role) p.role = role;
    if (token) p.token = token;
    const res = await this.rpc.call("signal.join", [p], { timeout: this.timeout });
    this.id = res.id;
    this.room = res.room ?? room;
    this.role = res.role;
    res.peers = res.peers || [];
    this.members = new Map(res.peers.map((m) => [m.id, m.role]));
    return res;
  }

  /** send relays payload (any JSON value) to peer `to` of our room, in order. */
  send(to, payload) {
    return this.rpc.call("signal.send", [{ to, payload }], { timeout: this.timeout });
  }

  /** leave leaves the room; the connection stays open. */
  async leave() {
    await this.rpc.call("signal.leave", [], { timeout: this.timeout });
    this.id = this.room = this.role = null;
    this.members = new Map();
  }

  close() {
    this.rpc.close("signaling closed");
  }
}

// ---------------------------------------------------------------- peer connections

/** Defaults of peer connection options. */
export const peerDefaults = Object.freeze({
  label: "peerd",
  maxMessageSize: 256 << 10,
  // Binary bytes per data channel message. Uploads to a Go (Pion) peer in
  // 32 KiB messages reach 0.93-0.96x of a Chromium-to-Chromium channel,
  // against 0.74-0.80x when each message fills the 256 KiB limit
  // (docs/BENCHMARKS.md); Chromium-to-Chromium itself is alike at both.
  chunkSize: 32 << 10,
  high: 4 << 20,
  low: 1 << 20,
  connectTimeout: 20000,
  drainTimeout: 5000,
  disconnectTimeout: 10000,
});

// negotiatedMax is the largest message we may send: what the browser says
// the association allows (pc.sctp.maxMessageSize, which already accounts
// for the remote's a=max-message-size), capped by our own limit.
function negotiatedMax(pc, limit) {
  const m = pc.sctp && pc.sctp.maxMessageSize;
  let size = limit;
  if (m > 0 && m < size) size = m;
  if (!(m > 0) && !pc.sctp) size = Math.min(size, 65535);
  return size;
}

// Link is one RTCPeerConnection with its data channel, talking to one peer
// through a Signaling connection. The offerer creates the channel.
class Link {
  constructor(sig, peerId, o, offerer) {
    this.sig = sig;
    this.peer = peerId;
    this.o = o;
    this.offerer = offerer;
    this.pc = new RTCPeerConnection({ iceServers: o.iceServers || [], ...(o.rtcConfig || {}) });
    this.dc = null;
    this.closed = false;
    this._remoteSet = false;
    this._early = []; // remote candidates before the remote description
    this._out = Promise.resolve(); // signals go out in order
    this._sdpSent = false;
    this._held = []; // our candidates before our offer/answer
    this.onclose = null;
    this.ready = new Promise((resolve, reject) => {
      this._ready = resolve;
      this._fail = reject;
    });
    this.ready.catch(() => {});
    this.pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate || !e.candidate.candidate) return; // end of gathering: nothing is sent
      const msg = { type: "candidate", candidate: e.candidate.toJSON() };
      if (this._sdpSent) this._signal(msg);
      else this._held.push(msg);
    });
    this._discTimer = null;
    this.pc.addEventListener("connectionstatechange", () => {
      const s = this.pc.connectionState;
      if (s === "failed" || s === "closed") this.close(`peer connection ${s}`, false);
      else if (s === "disconnected" && !this._discTimer) {
        this._discTimer = setTimeout(() => this.close("ICE disconnected too long", false), this.o.disconnectTimeout);
      } else if (s === "connected") {
        clearTimeout(this._discTimer);
        this._discTimer = null;
      }
    });
    this._off = sig.on("signal", (ev) => {
      if (ev.peer === this.peer) this.handle(ev.payload);
    });
    this._offLeave = sig.on("close", () => {
      if (!this.dc || this.dc.readyState !== "open") this.close("signaling closed before the channel opened", false);
    });
  }

  _signal(msg) {
    const next = this._out.then(() => this.sig.send(this.peer, msg));
    this._out = next.catch((e) => {
      if (!this.dc || this.dc.readyState !== "open") this.close(`signal to ${this.peer} failed: ${e.message}`, false);
    });
    return next;
  }

  _sdp(msg) {
    this._signal(msg);
    this._sdpSent = true;
    for (const c of this._held) this._signal(c);
    this._held = [];
  }

  adopt(dc) {
    this.dc = dc;
    const open = () => {
      const max = negotiatedMax(this.pc, this.o.maxMessageSize);
      this.transport = dataChannelTransport(dc, {
        maxMessageSize: max,
        high: this.o.high,
        low: this.o.low,
        onclose: () => this.close("closed by this side", true),
      });
      this.maxMessageSize = max;
      this._ready(this);
    };
    if (dc.readyState === "open") open();
    else dc.addEventListener("open", open, { once: true });
    dc.addEventListener("close", () => this.close("data channel closed", false));
  }

  async offer() {
    this.adopt(this.pc.createDataChannel(this.o.label, { ordered: true }));
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this._sdp({ type: "offer", sdp: this.pc.localDescription.sdp });
  }

  async handle(payload) {
    if (this.closed) return;
    try {
      if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw new PeerdError("signal payload is not an object");
      if (JSON.stringify(payload).length > 65536) throw new PeerdError("signal payload over 65536 bytes");
      switch (payload.type) {
        case "offer":
          if (this.offerer || this._remoteSet) throw new PeerdError("unexpected offer");
          await this.pc.setRemoteDescription({ type: "offer", sdp: String(payload.sdp) });
          await this._remoteReady();
          await this.pc.setLocalDescription(await this.pc.createAnswer());
          this._sdp({ type: "answer", sdp: this.pc.localDescription.sdp });
          break;
        case "answer":
          if (!this.offerer || this._remoteSet) throw new PeerdError("unexpected answer");
          await this.pc.setRemoteDescription({ type: "answer", sdp: String(payload.sdp) });
          await this._remoteReady();
          break;
        case "candidate":
          if (!payload.candidate || !payload.candidate.candidate) return; // end-of-candidates marker
          if (!this._remoteSet) {
            if (this._early.length >= 256) throw new PeerdError("too many early candidates");
            this._early.push(payload.candidate);
          } else {
            await this.pc.addIceCandidate(payload.candidate).catch(() => {});
          }
          break;
        case "bye":
          this.close(`remote closed${payload.reason ? ": " + String(payload.reason).slice(0, 200) : ""}`, false);
          break;
        default:
          throw new PeerdError(`unknown signal type ${JSON.stringify(String(payload.type)).slice(0, 40)}`);
      }
    } catch (e) {
      this.close(`protocol violation: ${e.message}`, true);
    }
  }

  async _remoteReady() {
    this._remoteSet = true;
    const early = this._early;
    this._early = [];
    for (const c of early) await this.pc.addIceCandidate(c).catch(() => {});
  }

  // close ends the link once. local is true when this side decided to
  // close: a negotiation under way is then ended with "bye", and an open
  // channel first delivers what it has queued (at most drainTimeout) before
  // the channel and the peer connection close (PROTOCOL.md 5.6).
  close(reason, local = true) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this._discTimer);
    const open = !!this.dc && this.dc.readyState === "open";
    if (local && !open) this._signal({ type: "bye", reason: String(reason).slice(0, 200) }).catch(() => {});
    this._off();
    this._offLeave();
    const err = new ClosedError(`peerd: ${reason}`);
    this._fail(err);
    if (this.onclose) this.onclose(err);
    /** shutdown resolves once the channel and the peer connection are closed. */
    this.shutdown = this._shut(local && open);
  }

  // _shut closes the channel and then the peer connection. With drain,
  // queued data goes first: bufferedAmount reaching 0 only means the data
  // reached the SCTP stack, so the channel is closed on its own (a stream
  // reset, which the remote sees after every message before it) and its
  // close event awaited before the peer connection goes; all of it within
  // drainTimeout.
  async _shut(drain) {
    const dc = this.dc;
    if (drain && dc) {
      const deadline = Date.now() + this.o.drainTimeout;
      await drainChannel(dc, this.o.drainTimeout);
      if (dc.readyState !== "closed") {
        const closed = new Promise((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          dc.addEventListener("close", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
        dc.close();
        await closed;
      }
    }
    try {
      if (dc) dc.close();
      this.pc.close();
    } catch (_) {
      /* already closed */
    }
  }
}

// drainChannel waits until dc has sent everything queued, it closes, or ms
// pass.
function drainChannel(dc, ms) {
  if (!dc || dc.readyState !== "open" || dc.bufferedAmount === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      dc.removeEventListener("bufferedamountlow", check);
      dc.removeEventListener("close", done);
      resolve();
    };
    const check = () => {
      if (dc.bufferedAmount === 0) done();
    };
    const timer = setTimeout(done, ms);
    dc.bufferedAmountLowThreshold = 0;
    dc.addEventListener("bufferedamountlow", check);
    dc.addEventListener("close", done);
  });
}

function peerOptions(o) {
  return {
    drainTimeout: o.drainTimeout ?? peerDefaults.drainTimeout,
    disconnectTimeout: o.disconnectTimeout ?? peerDefaults.disconnectTimeout,
    label: o.label ?? peerDefaults.label,
    maxMessageSize: o.maxMessageSize ?? peerDefaults.maxMessageSize,
    high: o.high ?? peerDefaults.high,
    low: o.low ?? peerDefaults.low,
    iceServers: o.iceServers,
    rtcConfig: o.rtcConfig,
  };
}

// pairOver builds the rpc pair over an open link.
function pairOver(link, o, extra) {
  const bo = { assemble: !!o.assemble, onerror: o.onerror, chunkSize: peerDefaults.chunkSize };
  for (const k of ["chunkSize", "maxPacketSize", "maxPendingBytes", "maxPendingPackets", "pendingTTL"]) {
    if (o[k] !== undefined) bo[k] = o[k];
  }
  const ch = new BinChannel(link.transport, bo);
  const conn = new RpcConn(ch, {
    local: o.local || {},
    timeout: o.timeout || 0,
    maxPending: o.maxPending ?? rpcDefaults.maxPending,
    assemble: !!o.assemble,
    nestedFuncs: !!o.nestedFuncs,
    onerror: o.onerror,
  });
  link.onclose = (err) => conn._shutdown(err);
  conn.closed.then(() => link.close("closed", true));
  return {
    remote: conn.remote,
    local: conn.local,
    // Resolves once queued data is delivered and everything is closed.
    close: async (reason) => {
      const err = await conn.close(reason);
      await link.shutdown;
      return err;
    },
    unbind: (fn) => conn.unbind(fn),
    conn,
    peer: link.peer,
    pc: link.pc,
    channel: link.dc,
    maxMessageSize: link.maxMessageSize,
    closed: conn.closed,
    ...extra,
  };
}

// openSignaling returns a joined Signaling and whether we own it.
async function openSignaling(o, defaultRole) {
  let sig = o.signaling;
  let own = false;
  if (!(sig instanceof Signaling)) {
    sig = await Signaling.connect(sig, { timeout: o.signalingTimeout ?? 10000 });
    own = true;
  }
  let joined = null;
  if (!sig.id) {
    const role = o.role ?? (o.token ? undefined : defaultRole);
    try {
      joined = await sig.join(o.room ?? "public", { token: o.token, role });
    } catch (e) {
      if (own) sig.close();
      throw e;
    }
  }
  return { sig, own, joined: joined || { id: sig.id, peers: [...sig.members].map(([id, role]) => ({ id, role })) } };
}

/**
 * connect joins a room on a signaling server, opens a data channel to a
 * peer there (o.peer, else the first publisher, waiting for one to join)
 * and returns the rpc pair over it: { remote, local, close, unbind, conn,
 * peer, id, signaling, pc, channel, closed }. With o.raw it returns the
 * open channel alone: { pc, channel, peer, id, signaling, maxMessageSize,
 * close, closed }.
 */
export async function connect(o = {}) {
  const po = peerOptions(o);
  const budget = o.connectTimeout ?? peerDefaults.connectTimeout;
  const { sig, own, joined } = await withTimeout(openSignaling(o, "subscriber"), budget, "joining the room");
  let link;
  try {
    const target = await withTimeout(pickPeer(sig, joined, o.peer), budget, "waiting for a peer");
    link = new Link(sig, target, po, true);
    await link.offer();
    await withTimeout(link.ready, budget, `connecting to ${target}`);
  } catch (e) {
    if (link) link.close(e.message, true);
    if (own) sig.close();
    throw e;
  }
  const pair = o.raw ? rawLink(link, { id: sig.id, signaling: sig }) : pairOver(link, o, { id: sig.id, signaling: sig });
  if (own) pair.closed.then(() => sig.close());
  return pair;
}

// rawLink hands out the open data channel itself, without framing or rpc.
function rawLink(link, extra) {
  const closed = new Promise((resolve) => {
    const prev = link.onclose;
    link.onclose = (err) => {
      if (prev) prev(err);
      resolve(err);
    };
  });
  return {
    pc: link.pc,
    channel: link.dc,
    peer: link.peer,
    maxMessageSize: link.maxMessageSize,
    close: async (reason = "closed by this side") => {
      link.close(String(reason), true);
      await link.shutdown;
      return closed;
    },
    closed,
    ...extra,
  };
}

function pickPeer(sig, joined, want) {
  const members = (joined.peers || []).map((m) => (typeof m === "string" ? { id: m, role: "" } : m));
  if (want) return Promise.resolve(want);
  const pub = members.find((m) => m.role === "publisher") || (members.every((m) => !m.role) ? members[0] : null);
  if (pub) return Promise.resolve(pub.id);
  return new Promise((resolve, reject) => {
    const off = sig.on("join", (ev) => {
      if (ev.role && ev.role !== "publisher") return;
      off();
      offc();
      resolve(ev.peer);
    });
    const offc = sig.on("close", () => {
      off();
      offc();
      reject(new ClosedError("signaling closed while waiting for a peer"));
    });
  });
}

/**
 * listen joins a room (as a publisher unless o.role says otherwise) and
 * answers every peer that dials us: each connection is handed to
 * o.onconnection as the same object connect returns. It returns
 * { id, signaling, close }.
 */
export async function listen(o = {}) {
  const po = peerOptions(o);
  const { sig, own } = await openSignaling(o, "publisher");
  const links = new Map();
  const off = sig.on("signal", (ev) => {
    const p = ev.payload;
    if (!p || p.type !== "offer" || links.has(ev.peer)) return;
    const link = new Link(sig, ev.peer, po, false);
    links.set(ev.peer, link);
    link.pc.addEventListener("datachannel", (e) => {
      if (link.dc || e.channel.label !== po.label) {
        e.channel.close();
        return;
      }
      link.adopt(e.channel);
    });
    link.handle(p);
    withTimeout(link.ready, o.connectTimeout ?? peerDefaults.connectTimeout, "accepting")
      .then(() => {
        const pair = o.raw ? rawLink(link, { id: sig.id, signaling: sig }) : pairOver(link, o, { id: sig.id, signaling: sig });
        pair.closed.then(() => links.delete(ev.peer));
        if (o.onconnection) o.onconnection(pair);
      })
      .catch((e) => {
        links.delete(ev.peer);
        link.close(e.message, true);
      });
  });
  return {
    id: sig.id,
    signaling: sig,
    close() {
      off();
      for (const l of links.values()) l.close("listener closed", true);
      links.clear();
      if (own) sig.close();
    },
  };
}

export default { connect, listen, Signaling, RpcConn, BinChannel, Chunks, toBytes, isBinary };
