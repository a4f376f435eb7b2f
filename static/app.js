// digitcam page: modes, the live loop, and what is always on screen (connection, RTT, fps).
//
// The loop keeps one frame in flight: capture, send, wait for the result, draw, repeat.

import { Link, DEFAULT_MAX_FRAME_BYTES } from "./link.js";
import { Camera, JPEG_QUALITY, SEND_WIDTH, cameraErrorMessage } from "./camera.js";
import { Pad } from "./pad.js";
import { TAG_HEIGHT, drawReading } from "./marks.js";
import { Announcer, drawJpeg, insetCorner, showBars, showReadout, showTimings, summary } from "./view.js";

const $ = (id) => document.getElementById(id);
const MODES = ["camera", "canvas", "classroom"];
const PAD_DEBOUNCE_MS = 200;   // read the drawing this long after the pen stops
const STATE_TEXT = { connecting: "Connecting…", connected: "Connected",
  reconnecting: "Reconnecting…", offline: "Offline" };

const link = new Link();
const camera = new Camera($("preview"));
const pad = new Pad($("pad"), $("pad-overlay"));
const ui = { mode: "camera", source: "camera", teach: false, quality: JPEG_QUALITY,
  padDirty: false, padTimer: 0, padSentWidth: 1, pumping: false, cameraWanted: true, cameraDraws: 0 };

// ---- messages -------------------------------------------------------------------------------

// "error" stays until dismissed; "warn" goes once results flow again, but not before this long.
const WARN_MIN_MS = 4000;
const STEADY_SPEECH_MS = 1500;  // a camera's reading is announced once it has stood this long
const announcer = new Announcer($("announce"));

/** The numbers read, on screen at once and to a screen reader once they have stood `speakAfterMs`. */
function showLines(lines, speakAfterMs = 0) {
  showReadout($("readout"), lines);
  announcer.offer(lines, speakAfterMs);
}

function notify(text, kind = "error") {
  $("notice-text").textContent = text;
  $("notice").dataset.kind = kind;
  $("notice").dataset.shownAt = String(performance.now());
  $("notice").hidden = false;
}
function clearNotice() { $("notice").hidden = true; }
$("notice-close").addEventListener("click", clearNotice);

// ---- connection, RTT, fps -------------------------------------------------------------------

link.addEventListener("state", ({ detail }) => {
  const { state, attempt, everConnected } = detail;
  $("conn").dataset.state = state;
  let text = STATE_TEXT[state];
  if (state === "offline") text = everConnected ? "Offline · server gone, retrying" : "Offline · retrying";
  if (state !== "connected" && attempt > 0) text += ` (${attempt})`;
  $("conn-text").textContent = text;
  showStats();
  // What is on screen was read before the link dropped: say so until fresh results arrive.
  const stale = state !== "connected" && state !== "connecting";
  if (stale) $("readout").classList.add("stale");
  $("stage").classList.toggle("offline", stale);
  const transport = link.socket.io.engine?.transport?.name;
  $("conn").title = state === "connected" && transport ? `Socket.IO over ${transport}` : "";
  if (state === "connected") {
    if (usesPad()) ui.padDirty = !pad.empty;  // re-read what was drawn while away
    pump();
  }
});

function showStats() {
  const rtt = link.connected ? link.rttMs() : null;  // no figure is better than an old one
  $("rtt").textContent = rtt === null ? "–" : String(Math.round(rtt));
  const fps = link.fps();
  // A drawing is read once per change, not streamed: frames per second say nothing there.
  $("fps").textContent = usesPad() ? "–" : link.connected && fps > 0 ? fps.toFixed(1) : "0";
}
setInterval(showStats, 500);

link.addEventListener("toolarge", ({ detail }) => {
  const size = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`);
  notify(`A frame of ${size(detail.size)} is over the ${size(detail.limit)} the server accepts; ` +
    "it was not sent." + (isCameraMode() ? " Lowering the JPEG quality." : ""), "warn");
  if (isCameraMode()) ui.quality = Math.max(0.3, ui.quality - 0.15);
  setTimeout(pump, 500);
});
/** Frames that never got an answer, and frames the server skipped as stale: rare, but shown. */
function showLosses(droppedByServer = 0) {
  const parts = [];
  if (link.timeouts) parts.push(`${link.timeouts} ${link.timeouts === 1 ? "reply" : "replies"} never came`);
  if (droppedByServer) parts.push(`${droppedByServer} stale frames skipped by the server`);
  $("dropped").textContent = parts.join(" · ");
}

link.addEventListener("timeout", ({ detail }) => {
  showLosses();
  notify(`No reply from the server within ${detail.after / 1000} s; sending a new frame.`, "warn");
  if (usesPad()) ui.padDirty = !pad.empty;  // that drawing was never read: send it again
});
link.addEventListener("error", ({ detail }) => notify(`Server: ${detail.msg.message}`, "warn"));
link.addEventListener("result", ({ detail }) => {
  // Dropped if the user switched modes, or stopped the camera, while it was in flight.
  const sentFrom = detail.mode === "camera" ? isCameraMode() && camera.running : usesPad();
  if (sentFrom) onResult(detail.msg);
});
link.addEventListener("idle", () => pump());

async function onResult(msg) {
  $("readout").classList.remove("stale");
  showStats();
  const notice = $("notice");
  if (notice.dataset.kind === "warn" && performance.now() - Number(notice.dataset.shownAt) > WARN_MIN_MS) {
    clearNotice();
  }
  showLosses(msg.dropped);
  if (ui.teach) showTimings($("timings"), msg.timings_ms);
  if (usesPad()) {
    if (pad.empty) return;  // cleared while this frame was being read
    showLines(msg.lines || []);
    $("readout-meta").textContent = summary(msg);
    showBars($("bars"), msg.digits || []);
    pad.showBoxes(msg.digits || [], ui.padSentWidth, msg.rejected_boxes || []);
    if (ui.teach) await drawJpeg($("stages"), msg.annotated);
    return;
  }
  showLines(msg.lines || [], STEADY_SPEECH_MS);
  $("readout-meta").textContent = summary(msg);
  if (!camera.running) return;
  // The teaching view's composite comes from the server; otherwise the frame sent is outlined here,
  // also when the teaching view was turned off while a frame asking for the composite was in flight.
  // Decoding the composite takes a while: a later reply, or turning the view off, wins over it.
  const turn = ++ui.cameraDraws;
  const shown = ui.teach && msg.annotated
    ? await drawJpeg($("annotated"), msg.annotated, () => ui.teach && turn === ui.cameraDraws)
    : drawReading($("annotated"), camera.sent, msg);
  if (!shown) return;
  const view = $("stage").querySelector(".camera-view");
  view.classList.add("live");
  // The teaching view hides the preview; otherwise `shown` holds the sizes the marks were drawn at.
  if (!ui.teach) placePreview(view, camera.sent, msg.digits || [], TAG_HEIGHT * shown.font);
}

/** Move the live preview inset to a corner of the picture where it hides no digit read, nor its
 *  tag, `tagPx` frame pixels tall. */
function placePreview(view, frame, digits, tagPx) {
  const size = { width: view.clientWidth, height: view.clientHeight };
  const preview = $("preview");
  preview.dataset.corner = insetCorner(digits.map((d) => d.box), frame, size, preview.dataset.corner, tagPx);
}

// ---- the loop -------------------------------------------------------------------------------

// The teaching composite's columns: style.css says how many fit the screen (--teach-columns).
const teachColumns = () =>
  (getComputedStyle(document.documentElement).getPropertyValue("--teach-columns").trim() === "1" ? 1 : 2);
/** The pad is the input in draw mode, and in classroom mode when the teacher draws on the screen. */
const usesPad = () => ui.mode === "canvas" || (ui.mode === "classroom" && ui.source === "pad");
const isCameraMode = () => (ui.mode === "camera" || ui.mode === "classroom") && !usesPad();

/** Send the next frame if nothing is in flight. Called whenever the link becomes idle. */
function pump() {
  if (isCameraMode()) pumpCamera();
  else if (ui.padDirty && !ui.padTimer) sendPad();
}

async function pumpCamera() {
  if (ui.pumping || link.busy || !link.connected || !camera.running || document.hidden) return;
  ui.pumping = true;
  try {
    await camera.nextFrame();
    const blob = await camera.capture(SEND_WIDTH, ui.quality);
    if (!blob) { setTimeout(pump, 100); return; }  // the video has no frame yet
    // Only the teaching view needs the server's picture: the page outlines the frame it sent.
    if (isCameraMode()) await link.send(blob, "camera", ui.teach, ui.teach, teachColumns());
  } finally {
    ui.pumping = false;
  }
}

async function sendPad() {
  ui.padTimer = 0;
  if (!ui.padDirty || link.busy || !link.connected) return;  // "idle" calls again
  ui.padDirty = false;
  if (pad.empty) return;
  const { blob, width } = await pad.export();
  ui.padSentWidth = width;
  // The pad outlines the digits itself; only the teaching view needs the server's picture.
  if (!(await link.send(blob, "canvas", ui.teach, ui.teach, teachColumns())) && !link.connected) ui.padDirty = true;  // resend on connect
}

pad.addEventListener("change", ({ detail }) => {
  $("pad-hint").hidden = !detail.empty;
  if (detail.empty) {
    ui.padDirty = false;
    showLines([]);
    $("readout-meta").textContent = "";
    showBars($("bars"), []);
    return;
  }
  ui.padDirty = true;
  clearTimeout(ui.padTimer);
  ui.padTimer = setTimeout(sendPad, PAD_DEBOUNCE_MS);
});

// ---- camera ---------------------------------------------------------------------------------

async function startCamera(deviceId = $("camera-select").value) {
  ui.cameraWanted = true;
  $("camera-placeholder-text").textContent = "Starting the camera…";
  $("camera-start").hidden = true;
  $("stage").querySelector(".camera-view").classList.remove("failed");
  try {
    if (!(await camera.start(deviceId))) return;  // overtaken by a later start or a stop
  } catch (err) {
    camera.stop();
    if (isCameraMode()) showCameraStopped(cameraErrorMessage(err), true);
    return;
  }
  clearNotice();
  await fillCameraPicker(camera.settings().deviceId);
  $("stage").querySelector(".camera-view").classList.add("running");
  $("camera-stop").hidden = false;
  pump();
}

function stopCamera(message = "Camera stopped.") {
  camera.stop();
  showCameraStopped(message);
}

function showCameraStopped(message, failed = false) {
  const view = $("stage").querySelector(".camera-view");
  view.classList.remove("running", "live");
  view.classList.toggle("failed", failed);
  const read = $("readout").dataset.key;
  if (isCameraMode() && read && read !== "[]") {  // the last reading stays, marked as old
    $("readout").classList.add("stale");
    $("readout-meta").textContent = "Camera stopped: the last reading";
  }
  $("camera-placeholder-text").textContent = message;
  $("camera-start").hidden = false;  // the one Start button: the picture's own
  $("camera-stop").hidden = true;
}

async function fillCameraPicker(activeId) {
  const select = $("camera-select");
  const cams = await camera.devices();
  select.replaceChildren(...cams.map((d, i) => {
    const opt = new Option(d.label || `Camera ${i + 1}`, d.deviceId);
    opt.selected = d.deviceId === activeId;
    return opt;
  }));
  select.disabled = cams.length < 2;
}

// The preview is not mirrored unless asked: the page is for reading writing, and a mirrored
// selfie view shows the paper's numbers backwards beside the unmirrored annotated frame.
function setMirror(on) {
  $("preview").classList.toggle("mirrored", on);
  $("mirror").setAttribute("aria-pressed", String(on));
}

$("camera-start").addEventListener("click", () => startCamera());
$("draw-instead").addEventListener("click", () => {
  if (ui.mode === "classroom") $("source").click();  // the projector stays, the pad replaces the camera
  else setMode("canvas");
});
$("camera-stop").addEventListener("click", () => { ui.cameraWanted = false; stopCamera(); });
$("camera-select").addEventListener("change", (e) => startCamera(e.target.value));
$("mirror").addEventListener("click", () => setMirror($("mirror").getAttribute("aria-pressed") !== "true"));
document.addEventListener("visibilitychange", () => pump());

// ---- drawing tools --------------------------------------------------------------------------

$("pen").addEventListener("input", (e) => {
  pad.penPx = Number(e.target.value);
  $("pen-out").textContent = e.target.value;
});
$("undo").addEventListener("click", () => pad.undo());
$("clear").addEventListener("click", () => pad.clear());
$("ink").addEventListener("click", () => {
  const on = $("ink").getAttribute("aria-pressed") !== "true";
  $("ink").setAttribute("aria-pressed", String(on));
  pad.setLightOnDark(on);
  $("pad").closest(".pad-wrap").classList.toggle("dark", on);
});
document.addEventListener("keydown", (e) => {
  if (usesPad() && (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
    e.preventDefault();
    pad.undo();
  }
});

// ---- teaching view, fullscreen, classroom join ----------------------------------------------

$("teach").addEventListener("click", () => {
  ui.teach = $("teach").getAttribute("aria-pressed") !== "true";
  $("teach").setAttribute("aria-pressed", String(ui.teach));
  $("teaching").hidden = !ui.teach;
  document.body.classList.toggle("teaching-on", ui.teach);
  if (usesPad()) { ui.padDirty = !pad.empty; pump(); }
});

const fsButton = $("fullscreen");
fsButton.hidden = !document.fullscreenEnabled;
fsButton.addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch((err) => notify(`Fullscreen refused: ${err.message}`));
});
document.addEventListener("fullscreenchange", () => {
  fsButton.textContent = document.fullscreenElement ? "Exit fullscreen" : "Fullscreen";
});

async function loadInfo() {
  try {
    const res = await fetch("api/info", { cache: "no-store" });
    if (!res.ok) return;
    const info = await res.json();
    if (Number.isFinite(info.max_frame_bytes)) link.maxFrameBytes = info.max_frame_bytes;
    if (info.lan && info.join_url) {
      $("join-url").textContent = info.join_url;
      $("join-url").href = info.join_url;
      $("join-qr").src = "api/qr.svg";
      $("join").hidden = false;
    }
  } catch {
    link.maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;  // an older server: keep the safe default
  }
}

// ---- modes ----------------------------------------------------------------------------------

function setMode(mode) {
  if (!MODES.includes(mode)) mode = "camera";
  const wasCamera = isCameraMode();
  ui.mode = mode;
  document.body.dataset.mode = mode;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.mode === mode;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on) $("stage").setAttribute("aria-labelledby", tab.id);
  }
  if (history.replaceState) history.replaceState(null, "", `#${mode}`);
  switchInput(wasCamera);
}

/** After a change of mode or classroom source: run the camera or the pad, whichever is now the input. */
function switchInput(wasCamera) {
  document.body.dataset.source = ui.mode === "classroom" ? ui.source : "";
  $("source").setAttribute("aria-pressed", String(ui.source === "pad"));
  showLines([]);
  $("readout-meta").textContent = "";
  if (isCameraMode()) {
    if (!wasCamera || !camera.running) { if (ui.cameraWanted) startCamera(); }
    else pump();
  } else {
    if (wasCamera) stopCamera("Camera stopped while drawing.");
    pad.resize();
    ui.padDirty = !pad.empty;
    pump();
  }
}

$("source").addEventListener("click", () => {
  const wasCamera = isCameraMode();
  ui.source = ui.source === "pad" ? "camera" : "pad";
  switchInput(wasCamera);
  // The pad replaces the picture; on a phone the button sits below it, so bring the pad into view
  // (on a wide screen it is in view already and nothing moves).
  if (usesPad()) $("pad").closest(".pad-wrap").scrollIntoView({ block: "nearest" });
});
for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => setMode(tab.dataset.mode));
  tab.addEventListener("keydown", (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    const next = MODES[(MODES.indexOf(ui.mode) + step + MODES.length) % MODES.length];
    setMode(next);
    document.querySelector(`[role="tab"][data-mode="${next}"]`).focus();
  });
}
window.addEventListener("hashchange", () => setMode(location.hash.slice(1)));

loadInfo();
setMode(location.hash.slice(1) || "camera");
