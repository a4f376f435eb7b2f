"""Which shipped model file the Recognizer loads on which CPU (webapp.recognizer.default_model)."""
from __future__ import annotations

from webapp.recognizer import FLOAT_MODEL, INT8_MODEL, Recognizer, default_model

AVX2_EPYC = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2\n"
XEON_VNNI = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 avx512f avx512_vnni\n"
ALDER_LAKE = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx_vnni\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp\n"


def test_an_x86_cpu_without_vnni_gets_the_float_file():
    """There onnxruntime's int8 kernels were slower than float32 and read MNIST less well."""
    assert default_model(AVX2_EPYC) == FLOAT_MODEL


def test_a_cpu_with_vnni_or_of_unknown_flags_gets_the_int8_file():
    for cpuinfo in (XEON_VNNI, ALDER_LAKE, ARM, ""):
        assert default_model(cpuinfo) == INT8_MODEL


def test_both_shipped_files_are_the_same_model():
    """Same constants and the same readings but for rounding, so either can serve."""
    import numpy as np

    int8, float32 = Recognizer(INT8_MODEL, provider="cpu"), Recognizer(FLOAT_MODEL, provider="cpu")
    assert int8.labels == float32.labels and int8.input_size == float32.input_size
    assert int8.min_confidence == float32.min_confidence and int8.has_letters == float32.has_letters
    rng = np.random.default_rng(0)
    batch = (rng.random((8, 1, 28, 28)) > 0.8).astype(np.float32)
    assert np.abs(int8.predict(batch) - float32.predict(batch)).max() < 0.2


def test_a_recognizer_without_a_path_loads_the_file_for_this_cpu():
    assert Recognizer(provider="cpu").path == default_model()


def _mnist_test_digits(mnist_dir, count: int):
    import numpy as np

    from train.data import load_split

    x, y = load_split(mnist_dir, "test")
    return x[:count].astype(np.float32)[:, None] / 255.0, y[:count]


def _member_alone(recognizer: Recognizer, batch, member: int):
    import numpy as np

    from webapp.recognizer import MEMBER_INPUT

    feed = {recognizer.input_name: batch, MEMBER_INPUT: np.array(member, np.int64)}
    return recognizer.session.run(None, feed)[0]


def _mean_of(recognizer, batch, members):
    import numpy as np

    return np.mean([_member_alone(recognizer, batch, k) for k in members], axis=0)


def _served_mean(recognizer, batch):
    """Each input's mean of members as `recognizer` serves it: its own mean, or the photo one for an
    input the letter detector finds letter-like (the file's `letter_like`) where the two differ."""
    photo = recognizer.on_canvas(False)
    wordy = recognizer.letters_of(recognizer.first_reading(batch)) >= recognizer.letter_like
    own, by_photo = _mean_of(recognizer, batch, recognizer.mean), _mean_of(recognizer, batch, photo.mean)
    return own * ~wordy[:, None] + by_photo * wordy[:, None]


def test_the_shipped_files_read_a_crop_with_one_member_and_a_doubtful_one_with_the_others(mnist_dir):
    """The cascade: what the first member reads surely is its reading; the rest get the mean."""
    import numpy as np

    x, _ = _mnist_test_digits(mnist_dir, 500)
    x[::7] = np.clip(x[::7] + np.roll(x[::7], 9, axis=3), 0, 1)  # some digits overlaid by others: doubtful
    for path in (FLOAT_MODEL, INT8_MODEL):
        photo, whole = Recognizer(path, provider="cpu"), Recognizer(path, provider="cpu", whole=True)
        assert photo.cascade is not None and whole.cascade is None
        first, sure, count = photo.cascade
        alone = _member_alone(photo, x, first)
        doubted = alone.max(axis=1) < sure
        assert 0.05 < doubted.mean() < 0.6, doubted.mean()  # both kinds are in the batch
        for served in (photo, photo.on_canvas()):  # each kind of frame with its own members' mean
            assert first in served.mean and set(served.mean) <= set(range(count))
            probs = served.predict(x)
            assert np.allclose(probs[~doubted], alone[~doubted], atol=1e-6)
            assert np.allclose(probs[doubted], _served_mean(served, x)[doubted], atol=1e-6)


def test_inputs_left_to_the_first_member_keep_its_reading_even_when_it_doubts_them(mnist_dir):
    """`alone` (the print of a page of text, pipeline._print_alone) skips the second call for those inputs."""
    import numpy as np

    x, _ = _mnist_test_digits(mnist_dir, 300)
    x[::5] = np.clip(x[::5] + np.roll(x[::5], 9, axis=3), 0, 1)  # overlaid digits: doubted
    served = Recognizer(FLOAT_MODEL, provider="cpu")
    first, sure, _ = served.cascade
    by_first = _member_alone(served, x, first)
    alone = np.zeros(len(x), bool)
    alone[::2] = True
    doubted = by_first.max(axis=1) < sure
    assert (doubted & alone).any() and (doubted & ~alone).any()
    probs, _ = served.classify(x, alone=alone)
    assert np.allclose(probs[alone], by_first[alone], atol=1e-6)
    assert np.allclose(probs[~alone], served.predict(x)[~alone], atol=1e-6)  # the others as without `alone`
    assert not np.allclose(probs[doubted & alone], served.predict(x)[doubted & alone], atol=1e-3)


def test_the_cascade_chooses_the_digits_the_whole_mean_chooses(mnist_dir):
    """Read right above the bar, or not: the same on 2,000 test digits and on them half hidden as
    with every crop read by all the members of its mean (photos' and canvases'; letter-like crops on a
    canvas by the photos', from the file's `letter_like`)."""
    import numpy as np

    x, _ = _mnist_test_digits(mnist_dir, 2000)
    hidden = x.copy()
    hidden[:, :, :, 14:] = 0  # the right half gone: many are read unsure or wrong
    for path in (FLOAT_MODEL, INT8_MODEL):
        photo = Recognizer(path, provider="cpu")
        for served in (photo, photo.on_canvas()):
            for batch in (x, hidden):
                a, b = served.predict(batch), _served_mean(served, batch)
                bar = served.min_confidence
                assert (np.where(a.max(1) >= bar, a.argmax(1), -1) == np.where(b.max(1) >= bar, b.argmax(1), -1)).all()


def test_a_first_reading_bounds_how_many_inputs_the_full_reading_can_read_surely(mnist_dir):
    """could_reach never undercounts: an input the first member reads too unsurely cannot reach
    the level in the mean. Given back to classify, the first reading saves its call and is kept."""
    import numpy as np

    x, _ = _mnist_test_digits(mnist_dir, 600)
    x[::3] = np.clip(x[::3] + np.roll(x[::3], 7, axis=3), 0, 1)  # overlaid: many read unsure
    for path in (FLOAT_MODEL, INT8_MODEL):
        served = Recognizer(path, provider="cpu")
        first = served.first_reading(x)
        kept = [o.copy() for o in first]
        probs, letters = served.classify(x, first)
        again, letters_again = served.classify(x)
        assert np.array_equal(probs, again) and np.array_equal(letters, letters_again)
        assert all(np.array_equal(a, b) for a, b in zip(first, kept))
        for level in (0.7, 0.9, 0.95):
            surely = int((probs.max(axis=1) >= level).sum())
            bound = served.could_reach(first, level)
            assert surely <= bound < len(x), (level, surely, bound)
        whole = Recognizer(path, provider="cpu", whole=True)  # no cascade: the first reading is the reading
        assert whole.could_reach(whole.first_reading(x), 0.95) == int((whole.predict(x).max(axis=1) >= 0.95).sum())


def test_a_cascade_the_file_cannot_run_is_refused(tmp_path):
    import onnx
    import pytest

    from webapp.recognizer import CASCADE_KEY, ModelError

    model = onnx.load(str(FLOAT_MODEL))
    for bad in ('{"first": 2, "sure": 0.99, "members": 2}', '{"first": 0}', "first member"):
        for prop in model.metadata_props:
            if prop.key == CASCADE_KEY:
                prop.value = bad
        onnx.save(model, str(tmp_path / "bad.onnx"))
        with pytest.raises(ModelError, match=CASCADE_KEY):
            Recognizer(tmp_path / "bad.onnx", provider="cpu")
