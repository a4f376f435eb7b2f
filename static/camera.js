// The camera: open a stream, list the cameras, grab downscaled JPEG frames.
//
// The frame sent is always taken from the raw video (never mirrored); only the on-screen
// <video> preview may be mirrored, by CSS.

export const SEND_WIDTH = 640;       // wide enough for ten digits on a page, small enough to be quick
export const JPEG_QUALITY = 0.8;

/** A user-facing sentence for a getUserMedia failure. */
export function cameraErrorMessage(err) {
  switch (err && err.name) {
    case "NotAllowedError":
      return "Camera permission was denied. Allow the camera for this site in the browser's " +
        "settings (the icon beside the address), then press Start camera, or use Draw mode.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Connect a camera and press Start camera, or use Draw mode.";
    case "NotReadableError":
    case "AbortError":
      return "The camera is busy or failed to start. Close other apps that use it, then try again.";
    case "SecurityError":
    case "InsecureContext":
      return "The browser allows cameras only on HTTPS or localhost. Start the server with --lan " +
        "for HTTPS, or open it on this machine.";
    default:
      return `The camera could not start (${(err && (err.message || err.name)) || "unknown error"}).`;
  }
}

export class Camera {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.ticket = 0;  // bumped by every start and stop, so a slow start that was overtaken gives up
    this.grab = document.createElement("canvas");  // the last frame captured, as sent (never mirrored)
  }

  get running() { return this.stream !== null; }

  /** Open a camera (the chosen one, else the rear one on phones). True when it runs, false when
   *  another start or a stop overtook this one while the browser was asking; throws on failure. */
  async start(deviceId = "") {
    this.stop();
    const ticket = ++this.ticket;
    if (!navigator.mediaDevices?.getUserMedia) {
      const err = new Error("no mediaDevices");
      err.name = window.isSecureContext ? "NotFoundError" : "InsecureContext";
      throw err;
    }
    const video = deviceId
      ? { deviceId: { exact: deviceId } }
      : { facingMode: { ideal: "environment" } };
    video.width = { ideal: 1280 };
    video.height = { ideal: 720 };
    const stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    if (ticket !== this.ticket) {
      stream.getTracks().forEach((t) => t.stop());  // nobody wants it any more: release the camera
      return false;
    }
    this.stream = stream;
    this.video.srcObject = stream;
    await this.video.play().catch(() => {});  // autoplay of a muted inline video is allowed
    return true;
  }

  stop() {
    this.ticket += 1;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
  }

  /** The id and facing of the open camera's track ("user", "environment" or ""). */
  settings() {
    const track = this.stream?.getVideoTracks()[0];
    const s = track?.getSettings ? track.getSettings() : {};
    return { deviceId: s.deviceId || "", facingMode: s.facingMode || "" };
  }

  /** The video inputs; labels are only filled in once permission was granted. */
  async devices() {
    if (!navigator.mediaDevices?.enumerateDevices) return [];
    const all = await navigator.mediaDevices.enumerateDevices();
    return all.filter((d) => d.kind === "videoinput");
  }

  /** Resolve on the next new video frame, or after `maxWaitMs` (a stopped or hidden video
   *  delivers none, and the loop must not hang on it). */
  nextFrame(maxWaitMs = 250) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      const done = () => { clearTimeout(timer); resolve(); };
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(done);
      else requestAnimationFrame(done);
    });
  }

  /** The canvas holding the last frame captured: the reply to it is drawn on it. The loop captures
   *  the next frame only after that reply (one frame in flight), so it stays until then. */
  get sent() { return this.grab; }

  /** The current frame, at most `width` px wide, as a JPEG Blob; null before video arrives. */
  capture(width = SEND_WIDTH, quality = JPEG_QUALITY) {
    const v = this.video;
    if (!this.stream || !v.videoWidth || !v.videoHeight) return Promise.resolve(null);
    const scale = Math.min(1, width / v.videoWidth);
    this.grab.width = Math.round(v.videoWidth * scale);
    this.grab.height = Math.round(v.videoHeight * scale);
    this.grab.getContext("2d").drawImage(v, 0, 0, this.grab.width, this.grab.height);
    return new Promise((resolve) => this.grab.toBlob(resolve, "image/jpeg", quality));
  }
}
