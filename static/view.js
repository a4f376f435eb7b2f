// Rendering a reading on the page: the numbers, the bar charts, the timings, the server's image.

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** The numbers read, one line each, in large type; rewritten only when they change. */
export function showReadout(box, lines) {
  const key = JSON.stringify(lines);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(...(lines.length
    ? lines.map((line) => el("div", "line", line))
    : [el("span", "empty", "–")]));
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

/** "3 digits · 1 rejected · server 12 ms" under the readout. */
export function summary(msg) {
  const n = msg.digits?.length || 0;
  const parts = [n === 1 ? "1 digit" : `${n} digits`];
  if (msg.rejected) parts.push(`${msg.rejected} rejected`);
  if (msg.timings_ms?.total !== undefined) parts.push(`server ${Math.round(msg.timings_ms.total)} ms`);
  return parts.join(" · ");
}
