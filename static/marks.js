// Outlining a reading on a picture, in the browser, the way webapp/annotate.py does on the server.
//
// The camera view draws the frame it sent with the reading on top, and the pad outlines the digits
// on its overlay, so outside the teaching view the server neither draws nor encodes a picture for
// every frame, and the reply is about 30 kB lighter.

export const SURE = 0.9;  // as annotate.SURE: a tag at or above this confidence is green, below it orange
const COLOUR = { sure: "rgb(40,170,40)", unsure: "rgb(255,140,0)", rejected: "rgb(220,40,40)" };
const TAG_FIT = 1.15;     // a tag may stick out a little past its box, never onto the neighbour's tag
const FONT = (px) => `700 ${px}px system-ui, sans-serif`;
export const TAG_HEIGHT = 1.25;  // a tag's height, in units of its font size

/**
 * Line width and font sizes (picture px) that read from the back of a classroom, for a picture of
 * width x height shown `shownWidth` CSS px wide: on a phone, where a 640 px frame is shown 300 px
 * wide, tags grow so that they stay at least 11 CSS px high on screen.
 */
export function markSize(width, height, shownWidth = width) {
  const side = Math.min(width, height);
  const k = Math.max(1, width / Math.max(shownWidth, 1));  // picture px per CSS px
  return { line: Math.max(2, Math.round(side / 240), Math.round(1.5 * k)),
    font: Math.max(14, Math.round(side / 20), Math.round(16 * k)), minFont: Math.round(11 * k) };
}

/** A filled tag with white text whose bottom-left corner is (x, y), kept inside the canvas. */
function tag(ctx, text, x, y, colour, px) {
  ctx.font = FONT(px);
  const w = ctx.measureText(text).width + 0.5 * px;
  const h = TAG_HEIGHT * px;
  x = Math.min(Math.max(x, 0), Math.max(ctx.canvas.width - w, 0));
  y = Math.min(Math.max(y, h), ctx.canvas.height);
  ctx.fillStyle = colour;
  ctx.fillRect(x, y - h, w, h);
  ctx.fillStyle = "#fff";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(text, x + 0.25 * px, y - 0.25 * px);
}

/** The font size at which `text` fits in `room` px, at most `px`. */
function fitting(ctx, text, room, px) {
  ctx.font = FONT(px);
  return Math.min(px, (px * room) / (ctx.measureText(text).width + 0.5 * px));
}

/**
 * Box each digit and tag it "7 98%" (or only "7" with `percent` false); where digits stand too close
 * for that to be readable (a phone's small view), the tag is only "7": the colour still tells sure
 * from unsure. Rejected regions get a thin red box. Boxes are in the read image's pixels; `k` scales
 * them to the canvas.
 */
export function drawMarks(ctx, digits, rejected, k, size, percent = true) {
  ctx.lineWidth = Math.max(1, size.line / 2);
  ctx.strokeStyle = COLOUR.rejected;
  for (const box of rejected || []) {
    const [x, y, w, h] = box.map((v) => v * k);
    ctx.strokeRect(x, y, w, h);
  }
  for (const d of digits || []) {
    const [x, y, w, h] = d.box.map((v) => v * k);
    const colour = d.confidence >= SURE ? COLOUR.sure : COLOUR.unsure;
    ctx.lineWidth = size.line;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    const label = String(d.label);
    const room = TAG_FIT * Math.max(w, 1);
    const full = `${label} ${Math.round(100 * d.confidence)}%`;
    const text = percent && fitting(ctx, full, room, size.font) >= size.minFont ? full : label;
    tag(ctx, text, x - size.line / 2, y - size.line / 2, colour, Math.max(size.minFont, fitting(ctx, text, room, size.font)));
  }
}

/** Paint `image` (the frame that was sent) on `canvas` with the reading `msg` on top. Returns the
 *  mark sizes used (markSize), or null when there is no image to paint. */
export function drawReading(canvas, image, msg) {
  if (!image || !image.width || !image.height) return null;
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  // The canvas is shown with object-fit: contain, so the picture is as wide as the box lets it be.
  const shown = Math.min(canvas.clientWidth, (canvas.clientHeight * image.width) / image.height) || image.width;
  const size = markSize(image.width, image.height, shown);
  drawMarks(ctx, msg.digits, msg.rejected_boxes, 1, size);
  return size;
}
