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
