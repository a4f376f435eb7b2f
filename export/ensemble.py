"""`digitcam ensemble`: one ONNX file that averages the probabilities of several exported models.

Two networks trained apart (another seed, other fine-tuning data) make partly different mistakes,
so the mean of their outputs is wrong less often than either, and it is less sure where they
disagree, which the reader's confidence rule turns into a rejection instead of a wrong digit. The
file keeps the single model's contract (input `pixels`, output `probs`, the same metadata keys),
so the server loads it unchanged and still classifies a frame in one onnxruntime call. With
`--letters`, a letter detector (train.letter_net) joins the graph as a second output, `letter`.
Torch-free: members are the float files `digitcam export` wrote; the mean is checked against the
members run one by one on real MNIST test digits, and `--int8` quantises the merged graph the way
`digitcam export --int8` quantises one model.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from export.onnx_files import INPUT_CONTRACT, add_metadata, int8_copy
from train import data as mnist
from train.evaluate import accuracy, ms_per_digit
from webapp.arguments import FRACTION
from webapp.recognizer import LETTER_OUTPUT, Recognizer

SHARED_KEYS = (*INPUT_CONTRACT, "labels")  # members must agree on these
PARITY_TOLERANCE = 1e-5  # max |probability difference| between the file and the mean of its members
LETTER_KEYS = ("model_config", "parameters", "digitcam_train_command", "training_data", "shares_at_bar", "letter_bar")
LETTER_PREFIX = "letter_"  # node and weight names of the letter detector inside the merged graph
MEMBER_KEYS = ("model_config", "digitcam_train_command", "mnist_test_accuracy", "training_data_sha256")


def merge(members: list[onnx.ModelProto], letters: onnx.ModelProto | None = None) -> onnx.ModelProto:
    """A graph that feeds its one input to every member and outputs the mean of their outputs.

    Every member's node, edge and weight name gets the prefix `m{i}_` so the graphs cannot collide;
    the shared input keeps the first member's name and the output its output's name. A letter
    detector (train.letter_net) is fed the same input, with the prefix LETTER_PREFIX, and its output
    becomes the file's second output, `letter`.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two models")
    first = members[0].graph
    models = members + ([letters] if letters is not None else [])
    opsets = {(o.domain or "ai.onnx", o.version) for m in models for o in m.opset_import}
    if len({domain for domain, _ in opsets}) != len(opsets):
        raise ValueError(f"members (or the letter detector) use different opsets: {sorted(opsets)}")
    pixels, probs = first.input[0], first.output[0]
    nodes, weights, outputs = [], [], []
    for i, model in enumerate(members):
        outputs.append(_copy_graph(model.graph, f"m{i}_", pixels.name, nodes, weights, f"member {i}"))
    nodes.append(helper.make_node("Mean", outputs, [probs.name], name="ensemble_mean"))
    graph_outputs = [probs]
    if letters is not None:
        letter = _copy_graph(letters.graph, LETTER_PREFIX, pixels.name, nodes, weights, "the letter detector")
        nodes.append(helper.make_node("Identity", [letter], [LETTER_OUTPUT], name="letter_out"))
        graph_outputs.append(helper.make_tensor_value_info(LETTER_OUTPUT, onnx.TensorProto.FLOAT, ["batch"]))
    graph = helper.make_graph(nodes, "digitcam_ensemble", [pixels], graph_outputs, weights)
    merged = helper.make_model(graph, opset_imports=list(members[0].opset_import))
    merged.ir_version = members[0].ir_version
    return merged


def _copy_graph(graph: onnx.GraphProto, prefix: str, input_name: str, nodes: list, weights: list, what: str) -> str:
    """Append the nodes and weights that compute `graph`'s first output, renamed with `prefix` and fed
    `input_name`; return that output's new name. A member's other outputs (a shipped file's own
    letter detector) are left out with the nodes only they need."""
    if len(graph.input) != 1 or not graph.output:
        raise ValueError(f"{what} must have one input and an output")
    names = {graph.input[0].name: input_name}

    def rename(name: str) -> str:
        return names.get(name, prefix + name) if name else name

    needed, used = {graph.output[0].name}, []
    for node in reversed(graph.node):
        if needed & set(node.output):
            used.append(node)
            needed.update(node.input)
    for node in reversed(used):
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = prefix + node.name
        copy.input[:] = [rename(n) for n in node.input]
        copy.output[:] = [rename(n) for n in node.output]
        nodes.append(copy)
    for init in graph.initializer:
        if init.name in needed:
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            copy.name = prefix + init.name
            weights.append(copy)
    return rename(graph.output[0].name)


def ensemble_metadata(members: list[onnx.ModelProto], names: list[str]) -> dict[str, str]:
    """The shared constants (which members must agree on) plus where each member came from."""
    metas = [{p.key: p.value for p in m.metadata_props} for m in members]
    meta: dict[str, str] = {}
    for key in SHARED_KEYS:
        values = {m.get(key) for m in metas}
        if len(values) != 1 or None in values:
            raise ValueError(f"members disagree on (or lack) {key!r}: {sorted(map(str, values))}")
        meta[key] = metas[0][key]
    described = [{"file": name, **{k: _json_or_text(m[k]) for k in MEMBER_KEYS if k in m}}
                 for name, m in zip(names, metas)]
    meta["ensemble"] = json.dumps(described)
    meta["model_config"] = json.dumps([json.loads(m.get("model_config", "null")) for m in metas])
    meta["training_data_sha256"] = ",".join(sorted({m.get("training_data_sha256", "") for m in metas}))
    meta["exporter"] = f"digitcam ensemble: mean of {len(members)} models' probs, onnx {onnx.__version__}"
    return meta


def _json_or_text(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("models", type=Path, nargs="+",
                        help="two or more float ONNX files written by `digitcam export`")
    parser.add_argument("--out", type=Path, required=True,
                        help="ONNX file to write (it may replace a member); a model card OUT.json goes beside it")
    parser.add_argument("--data", type=Path, default=None,
                        help="MNIST folder for the check, accuracy and calibration "
                             "(default: $DIGITCAM_DATA, else ../shared/data/mnist)")
    parser.add_argument("--int8", action="store_true", help="also write OUT-int8.onnx (static quantisation)")
    parser.add_argument("--min-confidence", type=FRACTION, default=None, metavar="P",
                        help="the reader rejects a digit read less surely than P; stored in the file, because "
                             "a mean of models is less sure than one (default: the reader's own, 0.7)")
    parser.add_argument("--letters", type=Path, default=None, metavar="FILE",
                        help="a letter detector (python -m train.letter_net) to add as the file's second output, "
                             "`letter`: the reader then rejects regions it calls letters (default: none)")
    parser.add_argument("--letter-bar", type=float, default=None, metavar="P",
                        help="with --letters: reject regions scored P or more (default: the detector file's own)")
    parser.add_argument("--note", default="", help="free text for the model card")
    parser.add_argument("--check-digits", type=int, default=2000,
                        help="real test digits on which the file must equal the mean of its members (default: 2000)")
    return parser


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    data_dir = args.data or mnist.default_data_dir()
    if data_dir is None:
        raise SystemExit("no MNIST folder: pass --data DIR")
    x_test, y_test = mnist.load_split(data_dir, "test")
    # Everything is read before anything is written: --out may be one of the members.
    members = [_load(p) for p in args.models]
    cards = [_card_beside(p) for p in args.models]
    letters = _load(args.letters) if args.letters else None
    try:
        meta = ensemble_metadata(members, [p.name for p in args.models])
        if args.min_confidence is not None:
            meta["min_confidence"] = str(args.min_confidence)
        if letters is not None:
            meta.update(letter_metadata(letters, meta, args.letters.name, args.letter_bar))
        merged = merge(members, letters)
    except ValueError as exc:
        raise SystemExit(f"cannot average these models: {exc}") from exc
    x = x_test.astype(np.float32)[:, None] / 255.0
    member_probs = [Recognizer(p, provider="cpu", threads=1).predict(x) for p in args.models]  # before --out is written
    member_acc = [float((p.argmax(1) == y_test).mean()) for p in member_probs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(args.out))
    add_metadata(args.out, meta)
    rec = Recognizer(args.out, provider="cpu", threads=1)
    n = args.check_digits
    diff = float(np.abs(rec.predict(x[:n]) - np.mean([p[:n] for p in member_probs], axis=0)).max())
    if diff > PARITY_TOLERANCE:
        raise SystemExit(f"check failed: the file differs from its members' mean by {diff:.2e}")
    if letters is not None:
        _check_letters(rec, args.letters, x[:n])
    acc, _ = accuracy(rec, x_test, y_test)
    meta["mnist_test_accuracy"] = f"{acc:.5f}"
    add_metadata(args.out, meta)
    ms = ms_per_digit(rec, x_test)
    members_text = ", ".join(f"{a * 100:.2f}%" for a in member_acc)
    print(f"wrote {args.out}: MNIST test {acc * 100:.2f}% (members {members_text}), "
          f"mean check max |diff| {diff:.1e}, {ms:.3f} ms/digit (1 thread, batch 10)")
    card = _card(args, rec.min_confidence, acc, len(y_test), ms, diff, member_acc, cards)
    if letters is not None:
        card["letters"] = json.loads(meta["letters"])
    if args.int8:
        keep_float = [node.name for node in merged.graph.node if node.name.startswith(LETTER_PREFIX)]
        q = card["int8"] = int8_copy(args.out, data_dir, meta, x_test, y_test, keep_float)
        print(f"int8 {args.out.with_name(q['file'])}: MNIST test {q['mnist_test_accuracy'] * 100:.2f}%, "
              f"{q['ms_per_digit']:.3f} ms/digit, {q['bytes']} bytes")
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


def letter_metadata(letters: onnx.ModelProto, meta: dict[str, str], name: str, bar: float | None) -> dict[str, str]:
    """The keys a letter detector adds: the bar the reader uses and the detector's own card."""
    own = {p.key: p.value for p in letters.metadata_props}
    output = letters.graph.output[0] if letters.graph.output else None
    if own.get("output") != LETTER_OUTPUT or output is None or output.name != LETTER_OUTPUT:
        raise ValueError(f"{name} is not a letter detector (python -m train.letter_net): no 'letter' output")
    if len(output.type.tensor_type.shape.dim) != 1:
        raise ValueError(f"{name}: its 'letter' output must hold one score per input, [N]")
    for key in INPUT_CONTRACT:
        if own.get(key) != meta[key]:
            raise ValueError(f"{name} disagrees with the members on {key!r}: {own.get(key)!r}")
    if bar is None:
        try:
            bar = float(own.get("letter_bar", "nan"))
        except ValueError:
            raise ValueError(f"{name}: its letter_bar {own['letter_bar']!r} is not a number") from None
    if not 0.0 < bar <= 1.0:
        raise ValueError(f"{name}: the letter bar must be in (0, 1], not {bar}")
    card = {"file": name, **{k: _json_or_text(own[k]) for k in LETTER_KEYS if k in own}, "letter_bar": bar}
    return {"letter_bar": str(bar), "letters": json.dumps(card)}


def _check_letters(rec: Recognizer, path: Path, x: np.ndarray) -> None:
    """The merged file's `letter` output must equal the detector's own on real digits."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    own = session.run(None, {session.get_inputs()[0].name: x})[0].reshape(-1)
    diff = float(np.abs(rec.classify(x)[1] - own).max())
    if diff > PARITY_TOLERANCE:
        raise SystemExit(f"check failed: the file's letter output differs from {path} by {diff:.2e}")


def _check_args(args: argparse.Namespace) -> None:
    if len(args.models) < 2:
        raise SystemExit("an ensemble needs at least two models")
    if args.min_confidence is not None and not 0.0 < args.min_confidence < 1.0:
        raise SystemExit(f"--min-confidence must be between 0 and 1, not {args.min_confidence}")
    for path in args.models + ([args.letters] if args.letters else []):
        if not path.is_file():
            raise SystemExit(f"model not found: {path}")
    if args.letter_bar is not None and not args.letters:
        raise SystemExit("--letter-bar needs --letters")
    if args.letter_bar is not None and not 0.0 < args.letter_bar <= 1.0:
        raise SystemExit(f"--letter-bar must be in (0, 1], not {args.letter_bar}")


def _card(args: argparse.Namespace, bar: float, acc: float, digits: int, ms: float, diff: float,
          member_acc: list[float], cards: list[dict | None]) -> dict:
    """The model card: what the file is, how it scored, and each member's own card."""
    return {"file": args.out.name, "task": "mean of the members' probabilities (see members)",
            "min_confidence": bar, "mnist_test_accuracy": round(acc, 5),
            "mnist_test_errors": int(round((1 - acc) * digits)),
            "ms_per_digit": round(ms, 4), "mean_check_max_abs_diff": float(f"{diff:.2e}"),
            "members": [{"file": p.name, "mnist_test_accuracy": round(a, 5), "card": c}
                        for p, a, c in zip(args.models, member_acc, cards)],
            "exported_at": time.strftime("%Y-%m-%d"), "note": args.note}


def _load(path: Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf raises its own DecodeError, among others, for a bad file
        raise SystemExit(f"cannot read model {path}: {exc}") from exc


def _card_beside(path: Path) -> dict | None:
    card = path.with_suffix(".json")
    try:
        return json.loads(card.read_text()) if card.is_file() else None
    except ValueError:
        return None
