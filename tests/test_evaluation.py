"""The evaluation commands, end to end with the real pipeline and the shipped model."""
from __future__ import annotations

import argparse
import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from webapp import baseline, evaluation
from webapp.cli import main
from webapp.scenes import DigitSource, make_scene

SCENES = 6  # per kind: enough to see a broken reader, small enough to run in seconds
F1_FLOOR = {"pages": 0.8, "drawings": 0.85, "boards": 0.8}  # far below the targets (0.97, 0.99): a regression alarm
REAL_EXACT_FLOOR = 0.6  # share of the real-dev images with digits that must be read exactly


@pytest.fixture(scope="module")
def eval_json(mnist_dir):
    """`digitcam eval-scenes --baseline --json` on a few scenes of each kind."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["eval-scenes", "--data", str(mnist_dir), "--count", str(SCENES), "--seed", "3",
                       "--baseline", "--json"])
    assert status == 0
    return json.loads(out.getvalue())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pages", "drawings", "boards"])
def test_the_pipeline_finds_and_reads_most_digits_of_generated_scenes(eval_json, kind):
    result = eval_json["readers"]["pipeline"][kind]
    assert result["images"] == SCENES
    assert result["f1"] > F1_FLOOR[kind], result


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pages", "drawings", "boards"])
def test_the_pipeline_beats_the_textbook_baseline_on_the_same_scenes(eval_json, kind):
    assert eval_json["readers"]["pipeline"][kind]["f1"] > eval_json["readers"]["baseline"][kind]["f1"]


def test_eval_scenes_over_several_seeds_scores_each_and_pools_them(mnist_dir, capsys):
    assert main(["eval-scenes", "--data", str(mnist_dir), "--count", "2", "--kind", "drawings", "--seeds", "5-6",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == [5, 6] and "seed" not in result
    each = result["per_seed"]["pipeline"]["drawings"]
    pooled = result["readers"]["pipeline"]["drawings"]
    assert sorted(each) == ["5", "6"] and all(s["images"] == 2 for s in each.values())
    assert pooled["images"] == 4 and pooled["digits"] == sum(s["digits"] for s in each.values())


class _Found:
    """A Reading-like object holding the given digits, as eval-scenes scores them."""

    def __init__(self, digits):
        self.digits = [argparse.Namespace(box=box, label=label) for box, label in digits]
        self.lines = []


@pytest.mark.parametrize("kind", ["drawings", "pages"])
def test_blame_gives_digits_the_model_reads_alone_to_the_reader_and_the_rest_to_the_model(mnist_dir, recognizer,
                                                                                        kind):
    """A reading that found nothing missed every digit; nearly all of them the model reads right from
    their own ink alone, so the reader is to blame. A reading that found every digit has no misses."""
    scene = make_scene(DigitSource.from_dir(mnist_dir), kind, 0, 3)
    nothing = evaluation.blame(scene, _Found([]), recognizer)
    assert nothing["model"] + nothing["reader"] == len(scene.labels)
    assert nothing["reader"] >= len(scene.labels) - 1, nothing
    assert evaluation.blame(scene, _Found(zip(scene.boxes, scene.labels)), recognizer) == {"model": 0, "reader": 0,
                                                                                           "touching": 0}


def test_blame_gives_a_digit_read_wrong_from_its_own_ink_to_the_model(mnist_dir, recognizer):
    """A drawing whose first digit is labelled as another digit (as an ambiguous MNIST digit is, in
    effect): missed, and read as its ink says even alone, so no reader could have found it."""
    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 0, 3)
    others = list(zip(scene.boxes, scene.labels))[1:]
    assert not evaluation.blame(scene, _Found(others), recognizer)["model"]
    scene.labels[0] = (scene.labels[0] + 1) % 10
    assert evaluation.blame(scene, _Found(others), recognizer) == {"model": 1, "reader": 0, "touching": 0}


def test_eval_scenes_blame_prints_whose_misses_they_are(mnist_dir, capsys):
    assert main(["eval-scenes", "--data", str(mnist_dir), "--count", "3", "--kind", "drawings", "--blame"]) == 0
    out = capsys.readouterr().out
    assert "pipeline misses" in out and "the model's" in out and "the reader's" in out


def test_eval_pairs_reads_pairs_of_drawn_digits_by_how_far_they_overlap(mnist_dir, capsys):
    assert main(["eval-pairs", "--data", str(mnist_dir), "--count", "30", "--seed", "1", "--json"]) == 0
    buckets = json.loads(capsys.readouterr().out)["buckets"]
    assert list(buckets) == ["apart", "touching", "drawn into each other"]
    assert sum(b["pairs"] for b in buckets.values()) == 30
    assert buckets["apart"]["right"] > 0.6  # two digits with a gap between them are mostly read (a regression alarm)


def test_eval_pairs_draws_the_same_pairs_for_a_seed_with_the_second_box_shifted_by_the_overlap(mnist_dir):
    from webapp.eval_pairs import draw_pair

    source = DigitSource.from_dir(mnist_dir)
    one, labels, overlap = draw_pair(source, np.random.default_rng(4))
    again, labels_again, _ = draw_pair(source, np.random.default_rng(4))
    assert np.array_equal(one, again) and labels == labels_again and -0.15 <= overlap <= 0.15
    assert one.shape == (480, 640, 3) and (one < 128).any()


def test_eval_sums_reads_sums_drawn_with_every_sign(mnist_dir, capsys):
    assert main(["eval-sums", "--data", str(mnist_dir), "--count", "25", "--seed", "1", "--json"]) == 0
    signs = json.loads(capsys.readouterr().out)["signs"]
    assert list(signs) == ["+", "-", "x", "÷", ":"]
    assert sum(s["sums"] for s in signs.values()) == 25
    assert sum(s["right"] * s["sums"] for s in signs.values()) > 0.6 * 25  # a regression alarm


def test_a_drawn_sum_holds_its_digits_in_order_and_its_signs(mnist_dir):
    """The same sum for a seed; the digits given as truth are those drawn, and the signs are ink too."""
    from webapp.eval_sums import draw_sum

    source = DigitSource.from_dir(mnist_dir)
    canvas, sign, digits = draw_sum(source, np.random.default_rng(3))
    again, sign_again, digits_again = draw_sum(source, np.random.default_rng(3))
    assert np.array_equal(canvas, again) and (sign, digits) == (sign_again, digits_again)
    assert canvas.shape == (480, 640, 3) and digits.isdigit() and len(digits) >= 4
    paper = np.median(canvas)
    inked_columns = np.flatnonzero((np.abs(canvas[:, :, 0].astype(int) - paper) > 128).any(axis=0))
    assert np.count_nonzero(np.diff(inked_columns) > 1) >= len(digits) - 1  # marks apart: digits and signs


def test_seed_lists_take_ranges_and_commas():
    from webapp.eval_scenes import seed_list

    assert seed_list("0-4") == [0, 1, 2, 3, 4]
    assert seed_list("0,2,5") == [0, 2, 5]
    assert seed_list("0-2,7") == [0, 1, 2, 7]
    with pytest.raises(argparse.ArgumentTypeError):
        seed_list("zero")


def test_the_baseline_returns_a_reading_the_scorer_understands(mnist_dir, recognizer):
    scene = make_scene(DigitSource.from_dir(mnist_dir), "drawings", 0, seed=2)
    reading = baseline.read_frame(scene.image, recognizer)
    score = evaluation.score_scene(scene, reading)
    assert score.counts.tp + score.counts.fn == len(scene.labels)
    assert score.counts.tp + score.counts.fp == len(reading.digits)
    assert all(len(d.probs) == 10 for d in reading.digits)


@pytest.mark.slow
def test_real_dev_photos_are_scored_image_by_image(real_dev_dir, recognizer):
    from webapp import eval_real

    items = evaluation.load_manifest(real_dev_dir)
    scores = eval_real.evaluate(real_dev_dir, evaluation.readers(recognizer, baseline=False))["pipeline"]
    assert [s.item.name for s in scores] == [i.name for i in items]
    with_digits = [s for s in scores if s.item.lines]
    summary = evaluation.real_summary(with_digits)
    assert summary["chars"] == sum(len("".join(i.lines)) for i in items)
    assert summary["exact"] >= REAL_EXACT_FLOOR, summary


def test_real_dev_photos_read_inverted_as_chalk_are_still_read(real_dev_dir, recognizer):
    """Light and dark swapped, every photo is light ink on a dark ground, as chalk on a board."""
    from webapp import eval_real

    scores = eval_real.evaluate(real_dev_dir, evaluation.readers(recognizer, baseline=False), invert=True)["pipeline"]
    summary = evaluation.real_summary(s for s in scores if s.item.lines)
    assert summary["exact"] >= REAL_EXACT_FLOOR, summary


def test_real_dev_photos_turned_askew_are_read_as_a_sheet_held_so(tmp_path, recognizer):
    """`eval-real --turn`: a picture turned on a canvas grown to hold all of it, so no digit is cut off."""
    from tests.pipeline_helpers import page, write
    from webapp import eval_real

    img = page(200, 400, 255)
    write(img, "47", 60, 150, scale=4, thickness=14)
    cv2.imwrite(str(tmp_path / "001.png"), img)
    (tmp_path / "manifest.jsonl").write_text('{"image": "001.png", "lines": ["47"], "kind": "canvas"}\n')
    assert eval_real._load(tmp_path / "001.png", False, 90.0).shape[:2] == (400, 200)
    scores = eval_real.evaluate(tmp_path, evaluation.readers(recognizer, baseline=False), turn=15.0)["pipeline"]
    assert [s.lines for s in scores] == [["47"]]


def test_eval_real_refuses_a_folder_without_a_manifest(tmp_path):
    with pytest.raises(SystemExit, match="no manifest.jsonl"):
        main(["eval-real", "--dir", str(tmp_path)])


def test_bench_pipeline_reports_every_stage_with_median_and_p95(mnist_dir, capsys):
    assert main(["bench-pipeline", "--data", str(mnist_dir), "--frames", "2", "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 2
    for stage in ("decode", "binarize", "classify", "total", "annotate", "wall: bytes -> result", "wall: + annotate + JPEG"):
        assert set(result["ms"][stage]) == {"median", "p95"}
        assert 0 <= result["ms"][stage]["median"] <= result["ms"][stage]["p95"]


def test_an_unreadable_real_image_counts_as_all_digits_missed(tmp_path, recognizer):
    from webapp import eval_real

    (tmp_path / "manifest.jsonl").write_text('{"image": "001.jpg", "lines": ["4711"], "kind": "photo"}\n')
    (tmp_path / "001.jpg").write_bytes(b"not a picture")
    scores = eval_real.evaluate(tmp_path, evaluation.readers(recognizer, baseline=True))
    for per_reader in scores.values():
        assert evaluation.real_summary(per_reader) == {"images": 1, "chars": 4, "edits": 4, "cer": 1.0, "exact": 0.0}


def test_eval_glyphs_reads_each_drawn_digit_three_ways_and_says_who_lost_it(mnist_dir, capsys):
    assert main(["eval-glyphs", "--data", str(mnist_dir), "--count", "40", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["digits"] == 40 and result["heights"] == [60.0, 420.0]
    outcomes = result["reader_right"] + result["reader_unread"] + result["reader_wrong"]
    assert outcomes == pytest.approx(1.0, abs=1e-3)
    assert result["reader_right"] >= 0.85 and result["missed_as_is"] <= 0.1, result  # a regression alarm
    assert 0 <= result["lost_by_reader"] <= 40 * (1 - result["reader_right"]) + 1e-9


def test_eval_glyphs_draws_the_same_digits_for_a_seed_each_whole_on_a_pad_sized_canvas(mnist_dir):
    from webapp.eval_glyphs import CANVAS, draw_digits

    source = DigitSource.from_dir(mnist_dir)
    first, again = draw_digits(source, 5, 1, (60, 420)), draw_digits(source, 5, 1, (60, 420))
    assert [d.label for d in first] == [d.label for d in again]
    for d in first:
        assert d.canvas.shape == (CANVAS[1], CANVAS[0], 3)
        gray = d.canvas[..., 0].astype(int)
        ink_pixels = np.count_nonzero(np.abs(gray - np.median(gray)) > 100)
        assert ink_pixels >= 0.8 * np.count_nonzero(d.ink > 0.5), "the whole digit is on the canvas"


@pytest.mark.parametrize("argv", [["--heights", "10", "100"], ["--heights", "300", "100"]])
def test_eval_glyphs_refuses_heights_it_cannot_draw(mnist_dir, argv):
    with pytest.raises(SystemExit, match="heights"):
        main(["eval-glyphs", "--data", str(mnist_dir), *argv])
