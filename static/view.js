// Rendering a reading on the page: the numbers, the bar charts, the timings, the server's image.

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** The numbers read, one line each, in large type; rewritten only when they change. A line never
 *  wraps (that would read as two lines): style.css sizes the type to the longest (--chars) and,
 *  on a projector, to the number of lines (--lines). */
export function showReadout(box, lines) {
  const key = JSON.stringify(lines);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.style.setProperty("--chars", String(Math.max(4, ...lines.map((line) => line.length))));
  box.style.setProperty("--lines", String(Math.max(2, lines.length)));
  box.replaceChildren(...(lines.length
    ? lines.map((line) => el("div", "line", line))
    : [el("span", "empty", "–")]));
}

/**
 * What a screen reader hears of the readings: a live camera's reading can change with every frame
 * (a hand moving, a word read differently each time), and announcing each would drown the user.
 * A reading is spoken once it has stood unchanged for `steadyMs`, and not again while it stays.
 */
export class Announcer {
  constructor(node) {
    this.node = node;
    this.candidate = "";
    this.timer = 0;
  }

  /** Offer the lines now shown; 0 ms speaks at once (a drawing is read only when the pen stops). */
  offer(lines, steadyMs) {
    const text = lines.join(", ");
    if (text === this.candidate && this.timer) return;  // already waiting to speak it
    clearTimeout(this.timer);
    this.candidate = text;
    this.timer = setTimeout(() => this.speak(), steadyMs);
  }

  /** Emptied when nothing is read (silently), so the same number coming back is a change to speak. */
  speak() {
    this.timer = 0;
    if (this.node.textContent !== this.candidate) this.node.textContent = this.candidate;
  }
}

const INSET = 0.26;          // the live preview's width, a share of the picture's (as style.css)
const INSET_MARGIN = 10;      // CSS px between the inset and the picture's edge (as style.css)
const CORNERS = ["br", "bl", "tr", "tl"];

/**
 * The corner of the picture where the live preview inset hides no digit read: the `current` one
 * while it stays clear (no jumping about), else the first clear one of bottom right, bottom left,
 * top right, top left; "none" when every corner holds a digit (the inset is then hidden).
 * `boxes` are in the frame's pixels, each with its tag, `tagPx` tall, above it; the frame is shown
 * with object-fit: contain in `view` (CSS px).
 */
export function insetCorner(boxes, frame, view, current = "br", tagPx = 0) {
  const s = Math.min(view.width / frame.width, view.height / frame.height);
  const ox = (view.width - frame.width * s) / 2, oy = (view.height - frame.height * s) / 2;
  const w = INSET * view.width, h = 0.75 * w;
  const right = view.width - INSET_MARGIN - w, bottom = view.height - INSET_MARGIN - h;
  const at = { br: [right, bottom], bl: [INSET_MARGIN, bottom], tr: [right, INSET_MARGIN], tl: [INSET_MARGIN, INSET_MARGIN] };
  const shown = boxes.map(([x, y, bw, bh]) => [ox + x * s, oy + (y - tagPx) * s, bw * s, (bh + tagPx) * s]);
  const clear = (corner) => {
    const [cx, cy] = at[corner];
    return shown.every(([x, y, bw, bh]) => x > cx + w || x + bw < cx || y > cy + h || y + bh < cy);
  };
  return [current, ...CORNERS].find((c) => CORNERS.includes(c) && clear(c)) || "none";
}

/** One small card per digit: its label and a ten-bar chart of the class probabilities. */
export function showBars(box, digits) {
  box.replaceChildren(...digits.map((d) => {
    const card = el("figure", "bar-card");
    const pct = Math.round(d.confidence * 100);
    card.setAttribute("aria-label", `Read ${d.label}, ${pct} percent sure`);
    card.append(el("figcaption", "bar-label", String(d.label)));
    const chart = el("div", "bar-chart");
    chart.setAttribute("aria-hidden", "true");
    (d.probs || []).forEach((p, cls) => {
      const col = el("div", cls === d.label ? "bar top" : "bar");
      const fill = el("span", "bar-fill");
      fill.style.height = `${Math.max(2, Math.round(p * 100))}%`;
      col.append(fill, el("span", "bar-class", String(cls)));
      col.title = `${cls}: ${(p * 100).toFixed(1)}%`;
      chart.append(col);
    });
    card.append(chart, el("span", "bar-pct", `${pct}%`));
    return card;
  }));
}

/** The server's time per pipeline stage: decode first, total last, each with a bar to scale. */
export function showTimings(box, timings) {
  const entries = Object.entries(timings || {});
  const total = Number((timings || {}).total) || 1;
  const rank = ([stage]) => (stage === "decode" ? -1 : stage === "total" ? 1 : 0);
  const items = entries.sort((a, b) => rank(a) - rank(b)).map(([stage, ms]) => {
    const item = el("div", stage === "total" ? "timing total" : "timing");
    item.setAttribute("role", "listitem");
    const bar = el("span", "timing-bar");
    bar.style.width = `${Math.min(100, (Number(ms) / total) * 100)}%`;
    item.append(el("span", "timing-stage", stage), el("b", "", `${Number(ms).toFixed(1)} ms`), bar);
    return item;
  });
  box.replaceChildren(...items);
}

/** Draw JPEG bytes (ArrayBuffer or Blob) onto a canvas, resizing it to the image. Decoding takes
 *  a while: `wanted()` says, once it is done, whether the picture is still the one to show. */
export async function drawJpeg(canvas, bytes, wanted = () => true) {
  if (!bytes) return false;
  const blob = bytes instanceof Blob ? bytes : new Blob([bytes], { type: "image/jpeg" });
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob);
  } catch {
    return false;  // a damaged image: keep the last good one on screen
  }
  if (!wanted()) {
    bitmap.close();
    return false;
  }
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
  return true;
}

/** "3 digits · 1 rejected · server 12 ms" (or "unchanged, not read again") under the readout. */
export function summary(msg) {
  const n = msg.digits?.length || 0;
  const parts = [n === 0 ? "No digits found" : n === 1 ? "1 digit" : `${n} digits`];
  if (msg.rejected) parts.push(`${msg.rejected} rejected`);
  // A still camera's frame showing what the last one did gets that reading again, unread (webapp/still.py).
  if (msg.timings_ms?.reused !== undefined) parts.push("unchanged, not read again");
  else if (msg.timings_ms?.total !== undefined) parts.push(`server ${Math.round(msg.timings_ms.total)} ms`);
  return parts.join(" · ");
}
