// The drawing pad: pointer strokes (mouse, touch, stylus), undo, clear, export as JPEG.
//
// Strokes are kept as points in units of the pad's width, so the drawing survives a resize or a
// phone rotation and can be re-rendered at any size. A stylus's pressure is kept with each point
// and widens or narrows the line around the chosen pen width, as on paper. The exported image is always black ink on
// white, whatever the pad shows, so the server sees one kind of drawing.

import { drawMarks } from "./marks.js";

export const EXPORT_WIDTH = 640;
const INK = { dark: "#111318", light: "#f4f1ea" };
const PAPER = { dark: "#ffffff", light: "#161a24" };
// Line width factor for stylus pressure p in (0, 1]: the pen width at the usual 0.5, down to
// 0.4x for a feather touch, up to 1.6x pressed hard.
const pressureScale = (p) => 0.4 + 1.2 * p;

const NO_MARKS = { digits: [], exportWidth: 1, rejected: [] };

const SHARP_TURN = 0.85;  // cosine between neighbouring pieces below which a corner gets a round join

/** Ink colour and round ends for strokes, dark on light or light on dark. */
function inkStyle(ctx, lightOnDark) {
  ctx.strokeStyle = ctx.fillStyle = INK[lightOnDark ? "light" : "dark"];
  ctx.lineCap = ctx.lineJoin = "round";
}

/**
 * A pressure-drawn stroke as one closed outline: the left edge forward, a round cap, the right
 * edge back, a round cap; each point [x, y, r] offset by its own radius. Drawn as one shape it
 * has no joints, where separate pieces would overlap and their anti-aliased edges add up into
 * darker beads. Sharp corners also get a disc, as a round line join would.
 */
function penOutline(points) {
  const pts = [];  // without repeated points (each compared with the last one kept): no zero-length pieces
  for (const p of points) {
    const last = pts[pts.length - 1];
    if (!last || Math.hypot(p[0] - last[0], p[1] - last[1]) > 0.01) pts.push(p);
  }
  const path = new Path2D();
  const disc = ([x, y, r]) => { path.moveTo(x + r, y); path.arc(x, y, r, 0, 2 * Math.PI, true); };  // turning as the outline does
  if (pts.length === 1) {
    disc(pts[0]);
    return path;
  }
  const normals = pts.slice(1).map(([x, y], i) => {
    const dx = x - pts[i][0], dy = y - pts[i][1], len = Math.hypot(dx, dy);
    return [-dy / len, dx / len];
  });
  const left = [], right = [];
  pts.forEach(([x, y, r], i) => {
    const a = normals[Math.max(0, i - 1)], b = normals[Math.min(normals.length - 1, i)];
    if (a[0] * b[0] + a[1] * b[1] < SHARP_TURN) {  // a corner: bevel both sides, round it with a disc
      left.push([x + a[0] * r, y + a[1] * r], [x + b[0] * r, y + b[1] * r]);
      right.push([x - a[0] * r, y - a[1] * r], [x - b[0] * r, y - b[1] * r]);
      disc([x, y, r]);
      return;
    }
    let mx = a[0] + b[0], my = a[1] + b[1];
    const m = Math.hypot(mx, my);
    mx /= m; my /= m;
    const k = r / (mx * b[0] + my * b[1]);  // keep the width across a gentle bend
    left.push([x + mx * k, y + my * k]);
    right.push([x - mx * k, y - my * k]);
  });
  const angle = ([nx, ny]) => Math.atan2(ny, nx);
  const [sx, sy, sr] = pts[0], [ex, ey, er] = pts[pts.length - 1];
  const first = angle(normals[0]), last = angle(normals[normals.length - 1]);
  path.moveTo(...left[0]);
  left.slice(1).forEach((p) => path.lineTo(...p));
  path.arc(ex, ey, er, last, last - Math.PI, true);  // round the end, around the front
  right.reverse().forEach((p) => path.lineTo(...p));
  path.arc(sx, sy, sr, first + Math.PI, first, true);  // and the start, around the back
  path.closePath();
  return path;
}

export class Pad extends EventTarget {
  constructor(canvas, overlay) {
    super();
    this.canvas = canvas;
    this.overlay = overlay;
    this.strokes = [];       // [{w, pen, pts: [[x, y, pressure], ...]}], x, y, w in units of the pad's width
    this.penPx = 14;
    this.lightOnDark = false;
    this.active = null;      // {pointerId, stroke}
    this._finished = null;   // while drawing: an image of the strokes already finished
    this._marks = null;      // the last reading's boxes, kept to outline again after a repaint
    this._aspect = 0;        // height / width on screen at the last resize
    this._listen();
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  get empty() { return this.strokes.length === 0; }

  undo() {
    if (!this.strokes.length) return;
    this.strokes.pop();
    this.active = null;  // a stroke being drawn was the last one: it ends here, not as a ghost over the cache
    this.redraw();
    this._changed(true);
  }

  clear() {
    if (!this.strokes.length) return;
    this.strokes = [];
    this.active = null;  // as in undo: the rest of a stroke being drawn is not drawn
    this.redraw();
    this._changed(true);
  }

  setLightOnDark(on) {
    this.lightOnDark = on;
    this.redraw(true);  // the same drawing: its reading still holds
  }

  /** Match the backing store to the on-screen size (sharp on high-DPI screens), then redraw. */
  resize() {
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = this.canvas.getBoundingClientRect();
    if (!width || !height) return;
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
    }
    // Strokes and boxes are kept in units of the pad's width, so both scale with it. A new shape
    // (a phone turned) may leave strokes below the edge: then the drawing is read again.
    const reshaped = this._aspect && Math.abs(height / width - this._aspect) > 0.01;
    this._aspect = height / width;
    this.redraw(true);
    if (reshaped && !this.empty) this._changed(true);
  }

  /** Repaint the strokes; the last reading's boxes are outlined again if `keepMarks`, else cleared. */
  redraw(keepMarks = false) {
    this._finished = null;
    const ctx = this.canvas.getContext("2d");
    this._paint(ctx, this.canvas.width, this.canvas.height, this.lightOnDark);
    const { digits, exportWidth, rejected } = (keepMarks && this._marks) || NO_MARKS;
    this.showBoxes(digits, exportWidth, rejected);
  }

  /** The drawing as black-on-white JPEG, EXPORT_WIDTH px wide: {blob, width, height}. */
  async export(quality = 0.85) {
    const rect = this.canvas.getBoundingClientRect();
    const width = EXPORT_WIDTH;
    const height = Math.round(EXPORT_WIDTH * (rect.height / rect.width || 0.75));
    const out = document.createElement("canvas");
    out.width = width;
    out.height = height;
    this._paint(out.getContext("2d"), width, height, false);
    const blob = await new Promise((resolve) => out.toBlob(resolve, "image/jpeg", quality));
    return { blob, width, height };
  }

  /** Outline each digit read (and each reject), given boxes in the exported image's pixels. */
  showBoxes(digits, exportWidth, rejected = []) {
    this._marks = { digits, exportWidth, rejected };
    const ctx = this.overlay.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    const size = { line: 2 * dpr, font: 18 * dpr, minFont: 12 * dpr };  // screen pixels: the pad is on screen
    drawMarks(ctx, digits, rejected, this.overlay.width / exportWidth, size, false);
  }

  _paint(ctx, width, height, lightOnDark, strokes = this.strokes) {
    const scheme = lightOnDark ? "light" : "dark";
    ctx.fillStyle = PAPER[scheme];
    ctx.fillRect(0, 0, width, height);
    inkStyle(ctx, lightOnDark);
    for (const s of strokes) this._stroke(ctx, s, width);
  }

  _stroke(ctx, stroke, width) {
    const pts = stroke.pts;
    const lineWidth = (p) => stroke.w * width * (stroke.pen ? pressureScale(p) : 1);  // at pressure p
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0] * width, pts[0][1] * width, lineWidth(pts[0][2]) / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    if (stroke.pen) {
      ctx.fill(penOutline(pts.map(([x, y, p]) => [x * width, y * width, lineWidth(p) / 2])));
      return;
    }
    ctx.lineWidth = lineWidth(pts[0][2]);
    ctx.beginPath();
    ctx.moveTo(pts[0][0] * width, pts[0][1] * width);
    for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] * width, pts[i][1] * width);
    ctx.stroke();
  }

  /** Repaint during a stroke: the finished strokes come from a cached image, made once per stroke. */
  _paintActive() {
    const { width, height } = this.canvas;
    const active = this.active.stroke;
    if (!this._finished) {
      this._finished = document.createElement("canvas");
      this._finished.width = width;
      this._finished.height = height;
      this._paint(this._finished.getContext("2d"), width, height, this.lightOnDark,
        this.strokes.filter((s) => s !== active));
    }
    const ctx = this.canvas.getContext("2d");
    ctx.drawImage(this._finished, 0, 0);
    inkStyle(ctx, this.lightOnDark);
    this._stroke(ctx, active, width);
  }

  _listen() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => {
      if (this.active || (e.pointerType === "mouse" && e.button !== 0)) return;
      e.preventDefault();
      c.setPointerCapture(e.pointerId);
      const rect = c.getBoundingClientRect();
      const stroke = { w: this.penPx / rect.width, pen: e.pointerType === "pen", pts: [] };
      this.strokes.push(stroke);
      this.active = { pointerId: e.pointerId, stroke };
      this._finished = null;  // the cached image lacks the stroke that just ended
      this._add([e], rect);
    });
    c.addEventListener("pointermove", (e) => {
      if (this.active?.pointerId !== e.pointerId) return;
      e.preventDefault();
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      this._add(events.length ? events : [e], c.getBoundingClientRect());
    });
    const end = (e) => {
      if (this.active?.pointerId !== e.pointerId) return;
      this.active = null;
      this._changed(true);
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
  }

  _add(events, rect) {
    const stroke = this.active.stroke;
    for (const e of events) {
      const pressure = e.pressure > 0 ? e.pressure : 0.5;  // 0 when the device reports none
      stroke.pts.push([(e.clientX - rect.left) / rect.width, (e.clientY - rect.top) / rect.width, pressure]);
    }
    // Repaint the whole stroke rather than append a piece: pieces overlap at their joints, and
    // the overlapping anti-aliased edges would show as beads along the line.
    this._paintActive();
    this._changed(false);
  }

  _changed(strokeEnded) {
    this.dispatchEvent(new CustomEvent("change", { detail: { strokeEnded, empty: this.empty } }));
  }
}
