"""The page in a real browser: headless Chromium, its fake camera fed a clip of handwritten numbers.

Screenshots go to test-artifacts/ (look at them: a test can pass on a page that looks broken)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

from browser_helpers import (ARTIFACTS, CAMERA_LINES, CHROMIUM, CHROMIUM_ARGS, MousePen, ServerProcess, Stylus,
                             ThreadedServer, camera_clip, draw_text, free_port, pick_mnist_digits,
                             render_digit_page, write_y4m)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]

READ_TIMEOUT_MS = 20_000  # a generous bound on a hang on a busy machine; nothing here is timed
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def camera_y4m(tmp_path_factory, mnist_dir, recognizer):
    """A short clip of a page with CAMERA_LINES in MNIST handwriting, checked readable first."""
    from webapp.pipeline import read_frame

    page = render_digit_page(CAMERA_LINES, pick_mnist_digits(mnist_dir, recognizer))
    reading = read_frame(page, recognizer, mode="camera", annotate=False)
    assert reading.lines == CAMERA_LINES, "the pipeline itself misreads the test page"
    return write_y4m(tmp_path_factory.mktemp("camera") / "page.y4m", camera_clip(page))


@pytest.fixture(scope="module")
def board_y4m(tmp_path_factory, mnist_dir, recognizer):
    """The same numbers in chalk: light strokes on a dark board lit from the left, checked readable."""
    from webapp.pipeline import read_frame

    page = render_digit_page(CAMERA_LINES, pick_mnist_digits(mnist_dir, recognizer))
    light = np.linspace(1.0, 0.45, page.shape[1], dtype=np.float32)[None, :, None]
    board = ((255 - page.astype(np.float32)) * 0.9 * light).astype(np.uint8)  # board ~9, chalk ~200
    assert read_frame(board, recognizer, mode="camera", annotate=False).lines == CAMERA_LINES
    return write_y4m(tmp_path_factory.mktemp("board") / "board.y4m", camera_clip(board))


@pytest.fixture(scope="module")
def corner_y4m(tmp_path_factory, mnist_dir, recognizer):
    """The numbers low and to the right, where the live preview inset sits by default."""
    page = np.roll(render_digit_page(CAMERA_LINES, pick_mnist_digits(mnist_dir, recognizer)), (100, 120), axis=(0, 1))
    return write_y4m(tmp_path_factory.mktemp("corner") / "corner.y4m", camera_clip(page))


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as running:
        yield running


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as driver:
        yield driver


def _launch(playwright, *extra_args: str):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + list(extra_args))


@pytest.fixture(scope="module")
def browser(playwright):
    """Chromium whose fake camera shows its built-in test pattern (for pages that draw)."""
    chromium = _launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def camera_browser(playwright, camera_y4m):
    """Chromium whose fake camera films the page of CAMERA_LINES."""
    chromium = _launch(playwright, f"--use-file-for-fake-video-capture={camera_y4m}")
    yield chromium
    chromium.close()


# Console errors a page may log without being broken: Chromium reports each refused reconnect.
HARMLESS_CONSOLE = re.compile(r"WebSocket connection to .* failed|ERR_CONNECTION_REFUSED")


class PageOpener:
    """open(url, viewport=DESKTOP, phone=False, setup=None) -> a fresh page in its own context.

    `setup(context)` runs before the page loads (routes, init scripts). Script errors on any page
    are collected: a page can look right while its code throws."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts, self.errors = [], []

    def __call__(self, url: str, viewport: dict = DESKTOP, phone: bool = False, setup=None):
        context = self.browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                                           device_scale_factor=2 if phone else 1,
                                           ignore_https_errors=url.startswith("https://localhost:"))
        self.contexts.append(context)
        if setup:
            setup(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and not HARMLESS_CONSOLE.search(msg.text)
                and self.errors.append(f"console: {msg.text}"))
        page.goto(url)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        assert self.errors == [], "the page's scripts reported errors"


@contextmanager
def camera_playing(playwright, y4m: Path) -> Iterator[PageOpener]:
    """Pages of a Chromium of their own, whose fake camera plays `y4m`; all closed after."""
    chromium = _launch(playwright, f"--use-file-for-fake-video-capture={y4m}")
    opener = PageOpener(chromium)
    try:
        yield opener
    finally:
        opener.close()
        chromium.close()


@pytest.fixture
def open_page(browser):
    opener = PageOpener(browser)
    yield opener
    opener.close()


@pytest.fixture
def open_camera_page(camera_browser):
    opener = PageOpener(camera_browser)
    yield opener
    opener.close()


# Counts the green pixels (the tags and boxes of sure digits) in RGBA data `px`.
COUNT_GREEN = """let n = 0; for (let i = 0; i < px.length; i += 4) n += px[i + 1] > px[i] + 80 && px[i + 1] > px[i + 2] + 80;
    return n;"""
GREEN_PIXELS = """c => { const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    """ + COUNT_GREEN + " }"


# Turns the teaching view off right after a frame asking for the composite has gone out, and from
# then on records the width of #annotated at each picture drawn on it (the composite is 1280 wide).
TEACH_OFF_IN_FLIGHT = """() => {
    window.annotatedDraws = [];
    const draw = CanvasRenderingContext2D.prototype.drawImage;
    CanvasRenderingContext2D.prototype.drawImage = function (...args) {
      if (this.canvas.id === 'annotated' && window.teachOff) window.annotatedDraws.push(this.canvas.width);
      return draw.apply(this, args);
    };
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      send.call(this, data);
      const teach = document.getElementById('teach');
      if (typeof data !== 'string' && !window.teachOff && teach.getAttribute('aria-pressed') === 'true') {
        teach.click();  // the frame's image has just gone: it asked for the composite
        window.teachOff = true;
      }
    };
  }"""


INKED_PIXELS = """c => { const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < px.length; i += 4) n += px[i] > 0; return n; }"""  # anything drawn


def shot(page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def test_camera_mode_reads_the_numbers_held_up_to_the_camera(server, open_camera_page):
    page = open_camera_page(server.url + "#camera")
    expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    expect(page.locator("#conn-text")).to_have_text("Connected")
    expect(page.locator("#rtt")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#fps")).to_have_text(re.compile(r"^\d+\.\d$"))
    # A still camera's frames are mostly answered with the last reading, and the page says which.
    expect(page.locator("#readout-meta")).to_have_text(
        re.compile(r"^7 digits( · \d+ rejected)? · (server \d+ ms|unchanged, not read again)$"))
    assert page.evaluate("""async () => { const { summary } = await import('/static/view.js');
        return [summary({ digits: [{}], timings_ms: { reused: 0.2, total: 1.1 } }),
                summary({ digits: [], rejected: 1, timings_ms: { total: 9.6 } })]; }""") == [
        "1 digit · unchanged, not read again", "No digits found · 1 rejected · server 10 ms"]
    expect(page.locator("#annotated")).to_be_visible()
    # The preview shows the paper as it is (mirrored, its numbers would read backwards) until asked.
    mirrored = "v => v.classList.contains('mirrored')"
    assert page.locator("#preview").evaluate(mirrored) is False
    page.get_by_role("button", name="Mirror preview").click()
    assert page.locator("#preview").evaluate(mirrored) is True
    expect(page.get_by_role("button", name="Mirror preview")).to_have_attribute("aria-pressed", "true")
    # A screen reader hears the reading once it holds still, not every frame's: the numbers on screen
    # are not a live region; a hidden one speaks the steady reading.
    expect(page.locator("#announce")).to_have_text(", ".join(CAMERA_LINES), timeout=READ_TIMEOUT_MS)
    assert page.locator("#readout").get_attribute("aria-live") is None
    # The page outlines the digits on the frame it sent: green boxes on a gray page.
    assert page.locator("#annotated").evaluate(GREEN_PIXELS) > 500
    page.wait_for_timeout(600)  # let the stats refresh once with several frames answered
    shot(page, "camera-desktop")

    page.get_by_role("button", name="Teaching view").click()  # now the server's composite of the stages
    page.wait_for_function("() => document.getElementById('annotated').width === 1280", timeout=READ_TIMEOUT_MS)
    # Turned off with a frame that asked for the composite in flight: that frame is shown outlined, as
    # the view now asks, and no composite is drawn after the click (nor one still being decoded).
    page.evaluate(TEACH_OFF_IN_FLIGHT)
    page.wait_for_function("() => window.teachOff === true", timeout=READ_TIMEOUT_MS)
    page.wait_for_function("() => document.getElementById('annotated').width === 640", timeout=READ_TIMEOUT_MS)
    page.wait_for_timeout(300)  # a few more replies
    draws = page.evaluate("window.annotatedDraws")
    assert draws and set(draws) == {640}, draws

    # Stopped, the camera's last reading stays on screen, marked as old rather than looking live.
    page.get_by_role("button", name="Stop camera").click()
    expect(page.locator("#readout")).to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#readout-meta")).to_have_text("Camera stopped: the last reading")
    expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES)
    expect(page.get_by_role("button", name="Start camera")).to_have_count(1)  # the picture's, not a second
    expect(page.get_by_role("button", name="Stop camera")).to_be_hidden()
    page.get_by_role("button", name="Start camera").click()
    expect(page.get_by_role("button", name="Stop camera")).to_be_visible(timeout=READ_TIMEOUT_MS)
    expect(page.locator("#readout")).not_to_have_class(re.compile(r"\bstale\b"), timeout=READ_TIMEOUT_MS)

    track = page.evaluate_handle("document.getElementById('preview').srcObject.getVideoTracks()[0]")
    page.get_by_role("tab", name="Draw").click()  # drawing needs no camera: it is released
    assert track.evaluate("t => t.readyState") == "ended"
    expect(page.locator("#readout")).to_have_text("–")


def test_camera_mode_reads_chalk_on_a_blackboard(server, playwright, board_y4m):
    """A teacher points the camera at the board: the live page reads light-on-dark writing too."""
    with camera_playing(playwright, board_y4m) as opener:
        page = opener(server.url + "#camera")
        expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
        assert page.locator("#annotated").evaluate(GREEN_PIXELS) > 500
        shot(page, "camera-blackboard")


def test_drawing_digits_on_the_pad_reads_them_and_undo_rereads(server, open_page):
    page = open_page(server.url + "#canvas")
    pad = page.locator("#pad")
    expect(pad).to_be_visible()
    draw_text(page, pad.bounding_box(), "714")
    expect(page.locator("#readout")).to_have_text(re.compile(r"^\s*7\s*1\s*4\s*$"), timeout=READ_TIMEOUT_MS)
    expect(page.locator(".bar-card .bar-label")).to_have_text(["7", "1", "4"])
    expect(page.locator(".bar-card").first.locator(".bar")).to_have_count(10)
    shot(page, "canvas-desktop")

    page.get_by_role("button", name="Teaching view").click()  # debug: true; the composite comes back
    expect(page.locator("#timings .timing-stage")).to_contain_text(["classify", "total"])
    page.wait_for_function("""() => { const c = document.getElementById('stages');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return px.some((v, i) => i % 4 === 3 && v > 0); }""")  # the stages image was drawn
    shot(page, "canvas-teaching", full_page=True)

    # Light on dark repaints the pad: the digits read are still outlined, though nothing is read again.
    outlined = page.locator("#pad-overlay").evaluate(INKED_PIXELS)
    assert outlined > 0
    page.get_by_role("button", name="Light on dark").click()
    assert page.locator("#pad-overlay").evaluate(INKED_PIXELS) == outlined
    page.get_by_role("button", name="Light on dark").click()

    page.get_by_role("button", name="Undo").click()  # the 4 had two strokes: one undo leaves a 1-ish mark
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#readout")).to_have_text(re.compile(r"^\s*7\s*1\s*$"), timeout=READ_TIMEOUT_MS)
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#readout")).to_have_text("–")
    expect(page.locator(".bar-card")).to_have_count(0)


def test_a_stylus_draws_thin_when_light_and_thick_when_pressed_and_both_are_read(server, open_page):
    page = open_page(server.url + "#canvas")
    pad = page.locator("#pad")
    expect(pad).to_be_visible()
    box = pad.bounding_box()
    left, right = dict(box, width=box["width"] / 2), dict(box, x=box["x"] + box["width"] / 2, width=box["width"] / 2)
    draw_text(page, left, "1", pen=Stylus(page, pressure=0.15))
    draw_text(page, right, "1", pen=Stylus(page, pressure=0.95))
    expect(page.locator("#readout")).to_have_text(re.compile(r"^\s*1\s*1\s*$"), timeout=READ_TIMEOUT_MS)
    runs = page.evaluate("""() => { const c = document.getElementById('pad');
        const row = c.getContext('2d').getImageData(0, Math.round(c.height / 2), c.width, 1).data;
        const runs = []; let run = 0;
        for (let i = 0; i < row.length; i += 4) {
          if (row[i] < 128) run++; else if (run) { runs.push(run); run = 0; } }
        return runs; }""")
    assert len(runs) == 2, runs
    assert runs[1] >= 2 * runs[0], f"pressed stroke {runs[1]} px vs light {runs[0]} px"
    shot(page, "canvas-stylus")


COLUMN_INK = """([x0, x1, y0, y1]) => { const c = document.getElementById('pad');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, ink = [];
    for (let x = x0; x < x1; x++) { let sum = 0;
      for (let y = y0; y < y1; y++) sum += 255 - px[4 * (y * c.width + x)];
      ink.push(sum); }
    return ink; }"""


def test_a_stylus_line_at_even_pressure_is_as_smooth_as_a_mouse_line(server, open_page):
    """No darker beads where the pieces of a pressure-drawn line meet: each column of a straight
    slanted line holds the same amount of ink, as it does for a mouse line."""
    page = open_page(server.url + "#canvas")
    pad = page.locator("#pad")
    expect(pad).to_be_visible()
    box = pad.bounding_box()
    scale = page.evaluate("() => document.getElementById('pad').width") / box["width"]
    spread = {}
    for name, pen, top in (("mouse", MousePen(page), 0.15), ("stylus", Stylus(page, pressure=0.5), 0.55)):
        start = (box["x"] + 0.1 * box["width"], box["y"] + top * box["height"])
        end = (box["x"] + 0.9 * box["width"], box["y"] + (top + 0.25) * box["height"])
        pen.stroke([start, (start[0] + 1, start[1] + 0.3), end])  # _path puts 12 points on the long piece
        x0, x1 = round((start[0] - box["x"] + 0.15 * box["width"]) * scale), round((end[0] - box["x"] - 0.15 * box["width"]) * scale)
        y0, y1 = round((start[1] - box["y"] - 40) * scale), round((end[1] - box["y"] + 40) * scale)
        ink = np.array(page.evaluate(COLUMN_INK, [x0, x1, y0, y1]), float)
        spread[name] = (ink.max() - ink.min()) / ink.mean()
    shot(page, "canvas-stylus-line")
    assert spread["mouse"] < 0.05, spread  # the line drawn is straight: its columns hold the same ink
    # Beads made the stylus line's columns vary 0.041-0.047 against the mouse's 0.018.
    assert spread["stylus"] <= 1.5 * spread["mouse"], spread


PAD_INK = """() => { const c = document.getElementById('pad');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let dark = 0; for (let i = 0; i < px.length; i += 4) if (px[i] < 128) dark++; return dark; }"""


def test_a_stroke_undone_while_still_being_drawn_leaves_no_ink_on_the_pad(server, open_page):
    page = open_page(server.url + "#canvas")
    pad = page.locator("#pad")
    expect(pad).to_be_visible()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.4 * box["width"], box["y"] + 0.5 * box["height"], steps=5)
    assert page.evaluate(PAD_INK) > 0
    page.keyboard.press("Control+z")  # the stroke in progress is the one undone
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.5 * box["height"], steps=5)
    page.mouse.up()
    assert page.evaluate("() => document.getElementById('pad-hint').hidden") is False  # the pad is empty...
    assert page.evaluate(PAD_INK) == 0  # ...and shows it: no stroke that is not in the drawing


def test_in_the_classroom_the_teacher_can_draw_on_the_projector_instead_of_the_camera(server, open_page):
    page = open_page(server.url + "#classroom")
    source = page.get_by_role("button", name="Draw on screen")
    expect(source).to_be_visible()
    expect(page.locator("#pad")).to_be_hidden()
    source.click()
    expect(source).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".camera-view")).to_be_hidden()
    pad = page.locator("#pad")
    expect(pad).to_be_visible()
    draw_text(page, pad.bounding_box(), "47")
    expect(page.locator("#readout")).to_have_text(re.compile(r"^\s*4\s*7\s*$"), timeout=READ_TIMEOUT_MS)
    shot(page, "classroom-pad")
    source.click()  # back to the camera: the drawing's reading goes, the camera view returns
    expect(page.locator(".camera-view")).to_be_visible()
    expect(page.locator("#readout")).not_to_have_text(re.compile("4"))


@pytest.mark.parametrize("mode", ["camera", "canvas", "classroom"])
def test_phone_layout_fits_375px_without_sideways_scrolling(server, request, mode):
    opener = request.getfixturevalue("open_page" if mode == "canvas" else "open_camera_page")
    page = opener(server.url + f"#{mode}", viewport=PHONE, phone=True)
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=READ_TIMEOUT_MS)
    if mode != "canvas":
        expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
    else:
        page.evaluate("""() => { window.pointerKinds = new Set();
            document.getElementById('pad').addEventListener('pointerdown',
                e => window.pointerKinds.add(e.pointerType)); }""")
        draw_text(page, page.locator("#pad").bounding_box(), "71", touch=True)
        assert page.evaluate("[...window.pointerKinds]") == ["touch"]
        assert page.evaluate("document.documentElement.scrollTop") == 0, "drawing scrolled the page"
        expect(page.locator("#readout")).to_have_text(re.compile(r"^\s*7\s*1\s*$"), timeout=READ_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The connection figures share the brand's row in every mode, so the page below never jumps.
    brand, stats = (page.locator(sel).bounding_box() for sel in (".brand", ".stats"))
    assert stats["y"] < brand["y"] + brand["height"] and stats["x"] + stats["width"] <= PHONE["width"]
    small = page.evaluate("""() => [...document.querySelectorAll('button, select, input, a')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
        .filter(([, r]) => r.height < 44 || r.width < 44)
        .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert small == [], "touch targets under 44 px"
    shot(page, f"phone-{mode}", full_page=True)


def test_on_a_phone_the_teaching_view_comes_in_one_column_at_full_width(server, open_camera_page):
    """Two columns of stages on a 375 px screen would shrink their titles to about 4 px."""
    page = open_camera_page(server.url + "#camera", viewport=PHONE, phone=True)
    expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
    page.get_by_role("button", name="Teaching view").click()
    page.wait_for_function("""() => { const c = document.getElementById('annotated');
        return c.width === 640 && c.height > 3 * 480; }""", timeout=READ_TIMEOUT_MS)
    shown = page.locator("#annotated").bounding_box()
    assert shown["height"] > 3 * shown["width"] and shown["width"] > 0.9 * (PHONE["width"] - 28)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-teaching", full_page=True)


def test_classroom_over_https_as_served_with_lan_shows_join_address_and_qr_code(open_camera_page, tmp_path):
    server = ServerProcess(free_port(), lan_home=tmp_path).start()
    try:
        page = open_camera_page(server.url + "#classroom")  # the context accepts the self-signed cert
        expect(page.locator("#join-url")).to_have_text(re.compile(rf"^https://.+:{server.port}/$"))
        page.wait_for_function("() => { const qr = document.getElementById('join-qr');"
                               " return qr.complete && qr.naturalWidth > 0; }")  # the server's SVG loaded
        page.get_by_role("button", name="Fullscreen").click()
        # Headless Chromium can take seconds to enter fullscreen while both cores read frames.
        expect(page.get_by_role("button", name="Exit fullscreen")).to_be_visible(timeout=READ_TIMEOUT_MS)
        assert page.evaluate("document.fullscreenElement === document.documentElement")
        # The camera works on HTTPS, and frames travel over the secure websocket.
        expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
        expect(page.locator("#conn")).to_have_attribute("title", "Socket.IO over websocket")
        expect(page.locator("#fps")).not_to_have_text("0", timeout=READ_TIMEOUT_MS)
        shot(page, "classroom-lan-https")
    finally:
        server.kill()


@pytest.mark.parametrize(("error", "says"), [
    ("NotAllowedError", "Camera permission was denied"),
    ("NotFoundError", "No camera was found"),
])
def test_camera_failures_are_explained_on_the_page(server, open_page, error, says):
    # The browser's answer to getUserMedia is the boundary: make it refuse as a real one does.
    refuse = ("navigator.mediaDevices.getUserMedia = () =>"
              f" Promise.reject(new DOMException('refused', '{error}'));")
    page = open_page(server.url + "#camera", viewport=PHONE, phone=True,
                     setup=lambda context: context.add_init_script(refuse))
    expect(page.locator("#camera-placeholder-text")).to_contain_text(says)
    expect(page.locator("#camera-start")).to_be_visible()
    expect(page.get_by_role("button", name="Draw instead")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, f"camera-{error}")


class DropFirstResult:
    """A relay for the page's websocket that loses the server's first `result` event on the way."""

    EVENT = re.compile(r'^4(?:5(\d+)-|2)\["result"')  # Engine.IO message + Socket.IO (binary) event

    def __init__(self):
        self.dropped = 0
        self.attachments_to_drop = 0

    def __call__(self, ws) -> None:
        upstream = ws.connect_to_server()

        def from_server(message) -> None:
            if self.attachments_to_drop and isinstance(message, bytes):
                self.attachments_to_drop -= 1
                return
            match = self.EVENT.match(message) if isinstance(message, str) else None
            if match and not self.dropped:
                self.dropped += 1
                self.attachments_to_drop = int(match.group(1) or 0)
                return
            ws.send(message)

        upstream.on_message(from_server)


def test_a_reply_that_never_comes_is_given_up_and_the_drawing_sent_again(server, open_page):
    relay = DropFirstResult()
    page = open_page(server.url + "#canvas",
                     setup=lambda context: context.route_web_socket(re.compile(r"/socket\.io/"), relay))
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=READ_TIMEOUT_MS)
    draw_text(page, page.locator("#pad").bounding_box(), "7")
    expect(page.get_by_role("alert")).to_contain_text("No reply from the server", timeout=READ_TIMEOUT_MS)
    expect(page.locator("#readout")).to_have_text(re.compile(r"^\s*7\s*$"), timeout=READ_TIMEOUT_MS)
    expect(page.locator("#dropped")).to_have_text("1 reply never came")
    assert relay.dropped == 1


def test_a_frame_over_the_servers_limit_is_reported_not_lost(server, open_page):
    info = {"join_url": server.url, "lan": False, "max_frame_bytes": 1000}
    page = open_page(server.url + "#canvas",
                     setup=lambda context: context.route("**/api/info", lambda route: route.fulfill(json=info)))
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=READ_TIMEOUT_MS)
    draw_text(page, page.locator("#pad").bounding_box(), "1")
    expect(page.get_by_role("alert")).to_contain_text("over the 1 kB the server accepts")
    expect(page.locator("#readout")).to_have_text("–")  # nothing was sent, so nothing was read


def test_page_says_when_the_server_goes_away_and_reconnects_when_it_returns(open_camera_page):
    server = ServerProcess(free_port()).start()
    try:
        page = open_camera_page(server.url + "#camera")
        conn = page.locator("#conn")
        expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
        server.kill()
        expect(conn).to_have_attribute("data-state", re.compile("reconnecting|offline"))
        expect(page.locator("#conn-text")).to_have_text(re.compile("Reconnecting|Offline"))
        expect(page.locator("#readout")).to_have_class(re.compile(r"\bstale\b"))
        expect(page.locator("#rtt")).to_have_text("–")
        expect(page.locator("#fps")).to_have_text("0")
        shot(page, "server-gone")
        server.start()
        expect(conn).to_have_attribute("data-state", "connected", timeout=READ_TIMEOUT_MS)
        expect(page.locator("#readout")).not_to_have_class(re.compile(r"\bstale\b"), timeout=READ_TIMEOUT_MS)
        expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES)
    finally:
        server.kill()


def test_the_preview_corner_rule_takes_the_first_clear_corner_and_keeps_it(server, open_page):
    """The rule behind the inset (view.js insetCorner): the first clear corner of bottom right,
    bottom left, top right, top left; the current one while it stays clear; none when all are taken."""
    page = open_page(server.url + "#camera")
    corners = page.evaluate("""async () => {
        const { insetCorner } = await import('/static/view.js');
        const frame = { width: 640, height: 480 }, view = { width: 640, height: 480 };
        const br = [560, 400, 40, 60], bl = [20, 400, 40, 60], tr = [560, 40, 40, 60], tl = [20, 40, 40, 60];
        const mid = [300, 200, 40, 60];
        return [insetCorner([mid], frame, view), insetCorner([mid, br], frame, view),
                insetCorner([br, bl], frame, view), insetCorner([br, bl, tr, tl], frame, view),
                insetCorner([bl], frame, view, "tr"),
                insetCorner([[300, 300, 40, 40]], frame, view, "br", 60),
                insetCorner([[1200, 560, 60, 40]], { width: 1280, height: 720 }, view)]; }""")
    # A digit just above the inset is clear of it, but not with its 60 px tag; and a 16:9 frame is
    # shown letterboxed in a 4:3 view: its low digit is lower on screen than the frame's height says.
    assert corners == ["br", "bl", "tr", "none", "tr", "br", "bl"]


def test_a_screen_reader_hears_a_reading_once_it_holds_still_and_not_again_while_it_stays(server, open_page):
    """view.js Announcer: a reading flickering between frames is never spoken; a steady one once; the
    same number gone (the region emptied) and back is spoken again; a drawing's reading (0 ms) at once."""
    page = open_page(server.url + "#camera")
    said = page.evaluate("""async () => {
        const { Announcer } = await import('/static/view.js');
        const node = document.createElement('p'), said = [];
        new MutationObserver(() => said.push(node.textContent)).observe(node, { childList: true, subtree: true });
        const wait = (ms) => new Promise((done) => setTimeout(done, ms));
        const speaker = new Announcer(node);
        for (const number of ['12', '17', '12', '17', '12', '17']) { speaker.offer([number], 400); await wait(20); }
        await wait(600);
        speaker.offer(['17'], 400); await wait(600);
        speaker.offer([], 0); await wait(20); speaker.offer(['17'], 0); await wait(20);
        speaker.offer(['4711', '23'], 0); await wait(20);
        return said; }""")
    assert said == ["17", "", "17", "4711, 23"]  # emptied silently, so "17" back is a change to speak


GREEN_UNDER_PREVIEW = """corner => {
    // Green pixels (sure digits' boxes and tags) of the annotated frame under the live preview inset,
    // with the inset in its current corner or, for the duration of this call, in `corner`.
    const view = document.querySelector('.camera-view').getBoundingClientRect();
    const preview = document.getElementById('preview'), before = preview.dataset.corner;
    if (corner) preview.dataset.corner = corner;
    const r = preview.getBoundingClientRect(), c = document.getElementById('annotated');
    preview.dataset.corner = before;
    const s = Math.min(view.width / c.width, view.height / c.height);
    const ox = view.left + (view.width - c.width * s) / 2, oy = view.top + (view.height - c.height * s) / 2;
    const x0 = Math.max(0, Math.floor((r.left - ox) / s)), y0 = Math.max(0, Math.floor((r.top - oy) / s));
    const x1 = Math.min(c.width, Math.ceil((r.right - ox) / s)), y1 = Math.min(c.height, Math.ceil((r.bottom - oy) / s));
    if (r.width === 0 || x1 <= x0 || y1 <= y0) return 0;
    const px = c.getContext('2d').getImageData(x0, y0, x1 - x0, y1 - y0).data;
    """ + COUNT_GREEN + " }"


def test_the_live_preview_moves_off_the_digits_it_would_hide(server, playwright, corner_y4m):
    with camera_playing(playwright, corner_y4m) as opener:
        page = opener(server.url + "#camera")
        expect(page.locator("#readout .line")).to_have_text(CAMERA_LINES, timeout=READ_TIMEOUT_MS)
        expect(page.locator("#preview")).to_have_attribute("data-corner", "bl")
        assert page.evaluate(GREEN_UNDER_PREVIEW, None) == 0
        assert page.evaluate(GREEN_UNDER_PREVIEW, "br") > 100, "in its usual corner it would hide digits"
        shot(page, "camera-preview-moved")
