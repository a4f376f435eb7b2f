// The socket to the server, paced so that exactly one frame is in flight at a time.
//
// A producer (camera or pad) calls send() when the link is idle; the link fires "idle" when the
// reply (result or error) arrives, when it times out, or when the connection drops. A slow server
// therefore lowers the frame rate instead of building a queue.

/* global io */

// Largest image the server reads; GET /api/info announces the real figure (max_frame_bytes).
// Until then assume Socket.IO's default message limit (1 MB) less room for the envelope.
export const DEFAULT_MAX_FRAME_BYTES = 1_000_000 - 4096;
// A reply that never comes must not stall the loop forever.
export const REPLY_TIMEOUT_MS = 5000;
const RTT_WINDOW = 9;        // median of the last few round trips: steady but still live
const FPS_WINDOW_MS = 2000;  // answered frames per second, over the last two seconds

export class Link extends EventTarget {
  constructor() {
    super();
    this.maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
    this.state = "connecting";
    this.attempt = 0;
    this.everConnected = false;
    this.nextId = 1;
    this.inFlight = null;   // {id, mode, sentAt, timer}
    this.rtts = [];
    this.answeredAt = [];
    this.timeouts = 0;
    // A websocket from the start (no long-polling handshake); long-polling only where a proxy
    // refuses websockets.
    this.socket = io({ transports: ["websocket", "polling"], tryAllTransports: true,
      reconnectionDelayMax: 4000 });
    this._wire();
  }

  get connected() { return this.socket.connected; }
  get busy() { return this.inFlight !== null; }

  /**
   * Send one encoded frame; false (and nothing sent) when busy, offline or too large.
   * `annotate` false asks for the reading without the annotated image (the pad draws its own boxes);
   * `columns` is the teaching composite's (`debug`): 1 on a phone, where two would be unreadably small.
   */
  async send(blob, mode, debug, annotate = true, columns = 2) {
    if (this.busy || !this.connected) return false;
    const limit = this.maxFrameBytes;
    if (blob.size > limit) {
      this._emit("toolarge", { size: blob.size, limit });
      return false;
    }
    const id = this.nextId++;
    const timer = setTimeout(() => this._timedOut(id), REPLY_TIMEOUT_MS);
    this.inFlight = { id, mode, sentAt: performance.now(), timer };
    const image = await blob.arrayBuffer();
    if (this.inFlight?.id !== id) return false;  // the connection dropped meanwhile
    this.socket.emit("frame", { id, image, mode, debug: Boolean(debug), annotate: Boolean(annotate), columns });
    return true;
  }

  /** Median round trip in ms of the last few answered frames, or null before the first. */
  rttMs() {
    if (!this.rtts.length) return null;
    const sorted = [...this.rtts].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /** Answered frames per second over the last two seconds (0 when nothing came back lately). */
  fps(now = performance.now()) {
    const recent = this.answeredAt.filter((t) => now - t <= FPS_WINDOW_MS);
    this.answeredAt = recent;
    if (recent.length < 2) return 0;
    return (recent.length - 1) / ((recent[recent.length - 1] - recent[0]) / 1000);
  }

  _wire() {
    const s = this.socket;
    s.on("connect", () => {
      this.everConnected = true;
      this.attempt = 0;
      this._setState("connected");
      this._emit("idle");
    });
    s.on("disconnect", (reason) => {
      this._release();
      this._setState(reason === "io client disconnect" ? "offline" : "reconnecting");
      // Socket.IO retries by itself after a network loss, but not when the server hung up.
      if (reason === "io server disconnect") setTimeout(() => s.connect(), 1000);
    });
    s.on("connect_error", () => this._setState("offline"));  // server unreachable; io retries
    s.io.on("reconnect_attempt", (n) => {
      this.attempt = n;
      this._setState(this.state === "connected" ? "reconnecting" : this.state);
    });
    s.on("result", (msg) => this._reply("result", msg));
    s.on("error", (msg) => this._reply("error", msg));
    window.addEventListener("offline", () => this._setState("offline"));
  }

  _reply(kind, msg) {
    const pending = this.inFlight;
    if (!pending || !msg) return;
    // An error without an id answers a frame the server could not parse: ours, the one in flight.
    const ours = msg.id === pending.id || (kind === "error" && msg.id == null);
    if (!ours) return;  // a late reply to a frame that timed out
    const rtt = performance.now() - pending.sentAt;
    this._release();
    this.rtts.push(rtt);
    if (this.rtts.length > RTT_WINDOW) this.rtts.shift();
    this.answeredAt.push(performance.now());
    this._emit(kind, { msg, rtt, mode: pending.mode });
    this._emit("idle");
  }

  _timedOut(id) {
    if (this.inFlight?.id !== id) return;
    this.timeouts += 1;
    this._release();
    this._emit("timeout", { id, after: REPLY_TIMEOUT_MS });
    this._emit("idle");
  }

  _release() {
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
  }

  _setState(state) {
    this.state = state;
    this._emit("state", { state, attempt: this.attempt, everConnected: this.everConnected });
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
