"""Training and export, end to end on a small real subset of MNIST."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the 'train' extra (torch)")

from export import onnx_export  # noqa: E402
from train import train as trainer  # noqa: E402
from train.augment import augment  # noqa: E402
from train.model import CheckpointError, DigitResNet  # noqa: E402


@pytest.mark.parametrize("stem_stride", [1, 2])
def test_the_resnet_maps_a_batch_of_digits_to_ten_logits(stem_stride):
    model = DigitResNet((8, 16, 32), (1, 2, 1), stem_stride)
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_blocks_have_identity_shortcuts_where_shapes_match():
    model = DigitResNet((8, 16), (2, 1))
    first_block = model.stages[0]
    assert isinstance(first_block.shortcut, torch.nn.Identity)


def test_augmented_digits_stay_valid_mnist_inputs(mnist_dir):
    from train.data import load_split

    images, _ = load_split(mnist_dir, "test")
    rng = np.random.default_rng(0)
    for img in images[:50]:
        out = augment(img, rng)
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.5


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, mnist_dir):
    """Two of three planned epochs on 3,000 plain digits with a tiny network: seconds, yet far above chance."""
    out = tmp_path_factory.mktemp("run")
    args = trainer.build_parser().parse_args(
        ["--data", str(mnist_dir), "--out", str(out), "--epochs", "3", "--pause-after", "2",
         "--limit", "3000", "--batch-size", "64",
         "--widths", "16", "32", "--blocks", "1", "1", "--workers", "0", "--lr", "0.1",
         "--no-augment"])
    return out, trainer.run(args)


def test_a_short_training_run_clearly_beats_chance(short_run):
    out, metrics = short_run
    assert metrics["test_acc"] > 0.6  # chance is 0.1
    for name in ("last.pt", "metrics.json", "curves.png", "confusion.png", "errors.png"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2


def test_resume_finishes_a_paused_run_from_its_checkpoint(short_run, mnist_dir):
    out, _ = short_run
    args = trainer.build_parser().parse_args(
        ["--data", str(mnist_dir), "--out", str(out), "--epochs", "3", "--limit", "3000", "--batch-size", "64",
         "--widths", "16", "32", "--blocks", "1", "1", "--workers", "0", "--resume", "--no-plots",
         "--no-augment"])
    metrics = trainer.run(args)
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert metrics["test_acc"] > 0.6


def test_export_matches_pytorch_and_carries_its_metadata(short_run, mnist_dir, tmp_path):
    out, metrics = short_run
    onnx_path = tmp_path / "tiny.onnx"
    args = argparse_for_export(out / "last.pt", onnx_path, mnist_dir)
    assert onnx_export.run(args) == 0
    from webapp.recognizer import Recognizer

    rec = Recognizer(onnx_path, provider="cpu")
    assert rec.input_size == 28 and rec.labels == [str(i) for i in range(10)]
    meta = rec.metadata
    assert meta["polarity"] == "white-on-black"
    assert float(meta["mnist_test_accuracy"]) > 0.6
    assert len(meta["training_data_sha256"]) == 64 and "torch" in meta["exporter"]
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["export"]["parity_max_abs_diff"] <= 1e-4
    assert card["training"]["command"].startswith("digitcam train")
    probs = rec.predict(np.random.default_rng(0).random((7, 1, 28, 28), np.float32))
    assert probs.shape == (7, 10) and np.allclose(probs.sum(1), 1.0, atol=1e-5)


def argparse_for_export(ckpt, out, data):
    import argparse

    parser = onnx_export.build_parser(argparse.ArgumentParser())
    return parser.parse_args([str(ckpt), "--out", str(out), "--data", str(data), "--parity-digits", "300"])


def test_cli_train_dry_run_completes(tmp_path, mnist_dir):
    result = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "train", "--data", str(mnist_dir), "--out", str(tmp_path),
         "--epochs", "1", "--dry-run", "--limit", "256", "--no-plots", "--workers", "0"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "last.pt").is_file()


def test_held_out_crops_from_several_files_are_scored_together_to_keep_the_best_epoch(tmp_path, mnist_dir):
    from train.data import load_split

    images, labels = load_split(mnist_dir, "train")
    for name, part in (("a.npz", slice(0, 40)), ("b.npz", slice(40, 100))):
        np.savez_compressed(tmp_path / name, images=images[part], labels=labels[part].astype(np.int64))
    result = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "train", "--data", str(mnist_dir), "--out", str(tmp_path / "run"),
         "--epochs", "1", "--dry-run", "--limit", "256", "--no-plots", "--workers", "0",
         "--extra-val", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "best.pt").is_file()
    history = torch.load(tmp_path / "run" / "best.pt", weights_only=False)["state"]["history"]
    assert "val_acc" in history[-1]


def _digits(n: int, label: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, 28, 28), 200, np.uint8), np.full(n, label, np.int64)


def test_extra_crops_take_their_share_of_each_epoch_in_a_fresh_order():
    base = trainer.AugmentedDigits(*_digits(70, 3), seed=0, enabled=False)
    crops = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    mixed = trainer.MixedDigits(base, crops, np.full(10, 7), fraction=0.3)
    assert len(mixed) == 100  # 70 MNIST digits and 30 crops: 30% of the epoch
    assert [mixed[i][1] for i in (0, 69, 70, 99)] == [3, 3, 7, 7]
    first = [int(mixed[70 + k][0][0, 0, 0] * 255 + 0.5) for k in range(10)]
    assert sorted(first) == list(range(10))  # every crop once before any repeats
    mixed.epoch = 1
    assert [int(mixed[70 + k][0][0, 0, 0] * 255 + 0.5) for k in range(10)] != first


def test_several_crop_files_are_taken_together_in_the_order_given(tmp_path):
    for name, label in (("a.npz", 1), ("b.npz", 2)):
        images, labels = _digits(3 if label == 1 else 2, label)
        np.savez_compressed(tmp_path / name, images=images, labels=labels)
    images, labels = trainer.load_crops([tmp_path / "a.npz", tmp_path / "b.npz"])
    assert images.shape == (5, 28, 28) and labels.tolist() == [1, 1, 1, 2, 2]
    assert trainer.load_crops(tmp_path / "b.npz")[1].tolist() == [2, 2]


def test_a_crop_that_is_no_digit_is_taught_the_uniform_answer():
    logits = torch.tensor([[5.0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0.0] * 10])
    uniform = trainer.digit_loss(logits[1:], torch.tensor([-1]))
    sure = trainer.digit_loss(logits[:1], torch.tensor([-1]))
    assert uniform.item() == pytest.approx(np.log(10)) and sure.item() > uniform.item()
    y = torch.tensor([0, 4])
    assert trainer.digit_loss(logits, y).item() == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item())


@pytest.fixture(scope="module")
def tiny_onnx(short_run, mnist_dir, tmp_path_factory):
    """The short run's network exported as the server would load it."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    assert onnx_export.run(argparse_for_export(short_run[0] / "last.pt", path, mnist_dir)) == 0
    return path


def _ensemble(models, out, data, *extra):
    import argparse

    from export import ensemble

    parser = ensemble.build_parser(argparse.ArgumentParser())
    return ensemble.run(parser.parse_args([*map(str, models), "--out", str(out), "--data", str(data),
                                           "--check-digits", "300", *extra]))


def test_an_ensemble_file_outputs_the_mean_of_its_members(tiny_onnx, mnist_dir, tmp_path):
    from train.data import load_split
    from webapp.recognizer import FLOAT_MODEL, INT8_MODEL, Recognizer

    shipped = FLOAT_MODEL if FLOAT_MODEL.is_file() else INT8_MODEL
    out = tmp_path / "both.onnx"
    assert _ensemble([tiny_onnx, shipped], out, mnist_dir, "--min-confidence", "0.55") == 0
    x = load_split(mnist_dir, "test")[0][:64].astype(np.float32)[:, None] / 255.0
    # whole: the shipped member is itself a pair, which the merged file runs whole, not as its cascade
    tiny, big, both = (Recognizer(p, provider="cpu", whole=True).predict(x) for p in (tiny_onnx, shipped, out))
    assert np.abs(tiny - big).max() > 0.1  # the members differ, so the mean is a real check
    assert np.allclose(both, (tiny + big) / 2, atol=1e-5)
    meta = Recognizer(out, provider="cpu").metadata
    members = json.loads(meta["ensemble"])
    assert [m["file"] for m in members] == ["tiny.onnx", shipped.name]
    assert members[0]["model_config"]["widths"] == [16, 32]
    assert meta["labels"] == json.dumps([str(i) for i in range(10)]) and float(meta["mnist_test_accuracy"]) > 0.6
    assert Recognizer(out, provider="cpu").min_confidence == 0.55
    card = json.loads(out.with_suffix(".json").read_text())
    assert len(card["members"]) == 2 and card["mean_check_max_abs_diff"] <= 1e-5


def test_an_ensemble_can_run_one_member_alone_and_be_read_as_a_cascade(tiny_onnx, mnist_dir, tmp_path):
    """--cascade 1: every crop read by member 1, the ones it doubts by both; the int8 copy alike."""
    from train.data import load_split
    from webapp.recognizer import FLOAT_MODEL, MEMBER_INPUT, Recognizer

    out = tmp_path / "cascade.onnx"
    assert _ensemble([tiny_onnx, FLOAT_MODEL], out, mnist_dir, "--cascade", "1", "--cascade-sure", "0.95", "--int8") == 0
    x = load_split(mnist_dir, "test")[0][:200].astype(np.float32)[:, None] / 255.0
    x[::3] = np.clip(x[::3] + np.roll(x[::3], 8, axis=3), 0, 1)  # overlaid digits, so some are doubted
    tiny = Recognizer(tiny_onnx, provider="cpu").predict(x)
    big = Recognizer(FLOAT_MODEL, provider="cpu", whole=True).predict(x)  # a member that is an ensemble runs whole
    served = Recognizer(out, provider="cpu")
    assert served.cascade == (1, 0.95, 2)
    alone = [served.session.run(None, {served.input_name: x, MEMBER_INPUT: np.array(k, np.int64)})[0] for k in (0, 1)]
    assert np.allclose(alone[0], tiny, atol=1e-5) and np.allclose(alone[1], big, atol=1e-5)
    sure = big.max(axis=1) >= 0.95
    assert 0 < sure.sum() < len(x)
    probs = served.predict(x)
    assert np.allclose(probs[sure], big[sure], atol=1e-5)
    assert np.allclose(probs[~sure], (tiny[~sure] + big[~sure]) / 2, atol=1e-5)
    assert np.allclose(Recognizer(out, provider="cpu", whole=True).predict(x), (tiny + big) / 2, atol=1e-5)
    int8 = Recognizer(tmp_path / "cascade-int8.onnx", provider="cpu")
    assert int8.cascade == (1, 0.95, 2) and np.abs(int8.predict(x) - probs).max() < 0.3
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["cascade"] == {"first": 1, "sure": 0.95, "members": 2} and card["int8"]["file"] == "cascade-int8.onnx"
    with pytest.raises(SystemExit, match="--cascade must name a member"):
        _ensemble([tiny_onnx, FLOAT_MODEL], tmp_path / "no.onnx", mnist_dir, "--cascade", "2")


def test_an_ensemble_can_give_canvases_and_photos_their_own_mean_of_members(tiny_onnx, mnist_dir, tmp_path):
    """--photo-mean / --canvas-mean: which members average the crops the first one doubts, by kind of frame."""
    from webapp.recognizer import FLOAT_MODEL, Recognizer

    out = tmp_path / "means.onnx"
    assert _ensemble([tiny_onnx, FLOAT_MODEL, tiny_onnx], out, mnist_dir, "--cascade", "1",
                     "--photo-mean", "0", "1", "--canvas-mean", "1", "2") == 0
    photo = Recognizer(out, provider="cpu")
    assert photo.cascade[::2] == (1, 3) and photo.mean == (0, 1) and photo.on_canvas().mean == (1, 2)
    assert json.loads(out.with_suffix(".json").read_text())["cascade"]["means"] == {"photo": [0, 1], "canvas": [1, 2]}
    for bad in (["--canvas-mean", "0", "2"], ["--photo-mean", "1", "3"]):  # without the first member; no member 3
        with pytest.raises(SystemExit, match="-mean needs --cascade K and names members, K among them"):
            _ensemble([tiny_onnx, FLOAT_MODEL, tiny_onnx], tmp_path / "no.onnx", mnist_dir, "--cascade", "1", *bad)


def test_an_ensemble_refuses_models_that_disagree_on_their_labels_or_cannot_be_read(tiny_onnx, mnist_dir, tmp_path):
    import onnx

    other = onnx.load(str(tiny_onnx))
    for prop in other.metadata_props:
        if prop.key == "labels":
            prop.value = json.dumps(list("abcdefghij"))
    onnx.save(other, str(tmp_path / "letters.onnx"))
    with pytest.raises(SystemExit, match="disagree on .*labels"):
        _ensemble([tiny_onnx, tmp_path / "letters.onnx"], tmp_path / "out.onnx", mnist_dir)
    (tmp_path / "garbage.onnx").write_bytes(b"not a model at all")
    with pytest.raises(SystemExit, match="cannot read model .*garbage.onnx"):
        _ensemble([tiny_onnx, tmp_path / "garbage.onnx"], tmp_path / "out.onnx", mnist_dir)
    with pytest.raises(SystemExit, match="at least two"):
        _ensemble([tiny_onnx], tmp_path / "out.onnx", mnist_dir)
    assert not (tmp_path / "out.onnx").exists()


@pytest.fixture(scope="module")
def tiny_letters(mnist_dir, tmp_path_factory):
    """A letter detector trained for a few batches on rendered letters, the reader's crops of two
    canvas scenes and MNIST digits: far from the shipped one, but a real file of the same kind."""
    from train import letter_crops, letter_net, pipeline_crops

    d = tmp_path_factory.mktemp("letters")
    letter_crops.main(["--count", "20", "--seed", "3", "--out", str(d / "letters.npz")])
    pipeline_crops.main(["--data", str(mnist_dir), "--count", "2", "--kind", "drawings", "--out", str(d / "digits.npz")])
    letter_net.main(["--letters", str(d / "letters.npz"), "--digit-crops", str(d / "digits.npz"), "--data", str(mnist_dir),
                     "--val-letters", str(d / "letters.npz"), "--epochs", "1", "--steps", "20", "--threads", "1",
                     "--out", str(d / "letter.onnx")])
    return d / "letter.onnx"


def test_an_ensemble_can_carry_a_letter_detector_as_its_second_output(tiny_onnx, tiny_letters, mnist_dir, tmp_path):
    import onnxruntime as ort

    from webapp.recognizer import FLOAT_MODEL, INT8_MODEL, Recognizer

    shipped = FLOAT_MODEL if FLOAT_MODEL.is_file() else INT8_MODEL
    plain, lettered = tmp_path / "plain.onnx", tmp_path / "lettered.onnx"
    assert _ensemble([tiny_onnx, shipped], plain, mnist_dir) == 0
    assert _ensemble([tiny_onnx, shipped], lettered, mnist_dir, "--letters", str(tiny_letters), "--letter-bar", "0.8") == 0
    x = np.random.default_rng(0).random((32, 1, 28, 28)).astype(np.float32)
    alone = ort.InferenceSession(str(tiny_letters), providers=["CPUExecutionProvider"]).run(None, {"pixels": x})[0]
    without, with_letters = Recognizer(plain, provider="cpu"), Recognizer(lettered, provider="cpu")
    assert not without.has_letters and without.classify(x)[1] is None  # a member's own detector is left out
    probs, letter = with_letters.classify(x)
    assert np.allclose(probs, without.predict(x), atol=1e-6) and np.allclose(letter, alone, atol=1e-5)
    assert with_letters.letter_bar == 0.8 and letter.shape == (32,)
    card = json.loads(lettered.with_suffix(".json").read_text())
    assert card["letters"]["file"] == "letter.onnx" and card["letters"]["letter_bar"] == 0.8


def test_an_ensemble_with_letters_and_a_canvas_mean_carries_its_letter_like_bar(tiny_onnx, tiny_letters, mnist_dir,
                                                                                 tmp_path):
    """The bar from which doubted canvas crops get the photo mean is written into the file whenever the
    reader will use it (a letter detector, a canvas mean of its own), and only then."""
    from webapp.recognizer import CASCADE_KEY, FLOAT_MODEL, LETTER_LIKE, Recognizer

    models = [tiny_onnx, FLOAT_MODEL, tiny_onnx]
    means = ["--cascade", "1", "--photo-mean", "0", "1", "--canvas-mean", "1", "2"]
    letters = ["--letters", str(tiny_letters)]
    default, set_, alike = tmp_path / "default.onnx", tmp_path / "set.onnx", tmp_path / "alike.onnx"
    assert _ensemble(models, default, mnist_dir, *means, *letters) == 0
    assert _ensemble(models, set_, mnist_dir, *means, *letters, "--letter-like", "0.8") == 0
    assert _ensemble(models, alike, mnist_dir, "--cascade", "1", "--photo-mean", "0", "1", "--canvas-mean", "0", "1",
                     *letters) == 0
    written = {p.stem: json.loads(Recognizer(p, provider="cpu").metadata[CASCADE_KEY]) for p in (default, set_, alike)}
    assert written["default"]["letter_like"] == LETTER_LIKE and written["set"]["letter_like"] == 0.8
    assert "letter_like" not in written["alike"]  # one mean for both kinds: no bar to choose between them
    assert Recognizer(set_, provider="cpu").letter_like == 0.8
    assert json.loads(set_.with_suffix(".json").read_text())["cascade"]["letter_like"] == 0.8
    for refused in (means, ["--cascade", "1", "--photo-mean", "0", "1", "--canvas-mean", "0", "1", *letters]):
        with pytest.raises(SystemExit, match="--letter-like needs --letters, --cascade and a canvas mean other"):
            _ensemble(models, tmp_path / "no.onnx", mnist_dir, *refused, "--letter-like", "0.8")


def test_an_ensemble_refuses_a_digit_model_as_its_letter_detector(tiny_onnx, mnist_dir, tmp_path):
    with pytest.raises(SystemExit, match="not a letter detector"):
        _ensemble([tiny_onnx, tiny_onnx], tmp_path / "out.onnx", mnist_dir, "--letters", str(tiny_onnx))
    with pytest.raises(SystemExit, match="--letter-bar needs --letters"):
        _ensemble([tiny_onnx, tiny_onnx], tmp_path / "out.onnx", mnist_dir, "--letter-bar", "0.9")
    assert not (tmp_path / "out.onnx").exists()


def test_export_of_a_file_that_is_not_a_training_checkpoint_says_so(tmp_path):
    notes, other = tmp_path / "notes.pt", tmp_path / "other.pt"
    notes.write_text("not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="notes.pt is not a PyTorch checkpoint"):
        onnx_export.load_checkpoint(notes)
    with pytest.raises(CheckpointError, match="other.pt is not a checkpoint written by digitcam train"):
        onnx_export.load_checkpoint(other)


def test_export_of_a_missing_checkpoint_is_a_one_line_error_not_a_traceback(tmp_path, capsys):
    from webapp import cli

    assert cli.main(["export", str(tmp_path / "gone.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "digitcam export: checkpoint not found:" in err and "gone.pt" in err
    assert "Traceback" not in err and not (tmp_path / "m.onnx").exists()


def test_a_model_card_lists_the_runs_behind_a_checkpoint_and_stops_where_an_init_file_is_gone(tmp_path):
    first = tmp_path / "first.pt"
    torch.save({"model": {}, "model_config": {}, "args": {"epochs": 2}, "state": {"epoch": 2}}, first)
    tuned = {"args": {"init": str(first), "epochs": 1}, "state": {"epoch": 1}}
    assert [s["epochs"] for s in onnx_export.training_stages(tuned)] == [2, 1]
    first.unlink()
    assert [s["epochs"] for s in onnx_export.training_stages(tuned)] == [1]


def test_resuming_where_no_run_was_saved_is_a_one_line_error(tmp_path, mnist_dir, capsys):
    from webapp import cli

    assert cli.main(["train", "--data", str(mnist_dir), "--out", str(tmp_path), "--resume", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"digitcam train: --resume: no checkpoint at {tmp_path / 'last.pt'}" in err and "Traceback" not in err
