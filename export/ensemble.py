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
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from export.onnx_files import INPUT_CONTRACT, add_metadata, calibration_digits, int8_path, label_int8, quantize_int8
from train import data as mnist
from train.evaluate import accuracy, ms_per_digit
from webapp.arguments import FRACTION, real
from webapp.recognizer import ALL_MEMBERS, CASCADE_KEY, LETTER_LIKE, LETTER_OUTPUT, MEAN_KINDS, MEMBER_INPUT, Recognizer

SHARED_KEYS = (*INPUT_CONTRACT, "labels")  # members must agree on these
PARITY_TOLERANCE = 1e-5  # max |probability difference| between the file and the mean of its members
LETTER_KEYS = ("model_config", "parameters", "digitcam_train_command", "training_data", "shares_at_bar", "letter_bar")
LETTER_PREFIX = "letter_"  # node and weight names of the letter detector inside the merged graph
CASCADE_SURE = 0.99  # --cascade: with member 1 of the shipped pair first, the reader chose the digits the
#   mean chose on every scene of pages and boards seeds 0-2 and 5-7 and on 2,998 of 3,000 drawings (docs/model.md)
MEMBER_KEYS = ("model_config", "digitcam_train_command", "mnist_test_accuracy", "training_data_sha256")


def merge(members: list[onnx.ModelProto], letters: onnx.ModelProto | None = None) -> onnx.ModelProto:
    """A graph that feeds its one input to every member and outputs the mean of their outputs.

    Every member's node, edge and weight name gets the prefix `m{i}_` so the graphs cannot collide;
    the shared input keeps the first member's name and the output its output's name. Each member
    runs inside its own If node, so a caller may ask for one member alone with the optional input
    MEMBER_INPUT (default ALL_MEMBERS: the mean), and the others then cost nothing; the reader's
    cascade (recognizer.Recognizer) reads every crop with one member first and only the doubtful
    ones with the rest. A letter detector (train.letter_net) is fed the same input, with the prefix
    LETTER_PREFIX, and its output becomes the file's second output, `letter`.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two models")
    first = members[0].graph
    models = members + ([letters] if letters is not None else [])
    opsets = {(o.domain or "ai.onnx", o.version) for m in models for o in m.opset_import}
    if len({domain for domain, _ in opsets}) != len(opsets):
        raise ValueError(f"members (or the letter detector) use different opsets: {sorted(opsets)}")
    pixels, probs = first.input[0], first.output[0]
    classes = len(json.loads(next((p.value for p in members[0].metadata_props if p.key == "labels"), "[]")))
    nodes, weights = _member_switch(len(members), pixels.name, classes)
    shares = []
    for i, model in enumerate(members):
        body, local = [], []
        out = _copy_graph(model.graph, f"m{i}_", pixels.name, body, local, f"member {i}")
        nodes += _gated_member(i, body, local, out)
        shares.append(f"m{i}_share")
    nodes.append(helper.make_node("Sum", shares, [probs.name], name="ensemble_mean"))
    graph_outputs = [probs]
    if letters is not None:
        letter = _copy_graph(letters.graph, LETTER_PREFIX, pixels.name, nodes, weights, "the letter detector")
        nodes.append(helper.make_node("Identity", [letter], [LETTER_OUTPUT], name="letter_out"))
        graph_outputs.append(helper.make_tensor_value_info(LETTER_OUTPUT, onnx.TensorProto.FLOAT, ["batch"]))
    only = helper.make_tensor_value_info(MEMBER_INPUT, onnx.TensorProto.INT64, [])
    graph = helper.make_graph(nodes, "digitcam_ensemble", [pixels, only], graph_outputs, weights)
    merged = helper.make_model(graph, opset_imports=list(members[0].opset_import))
    merged.ir_version = members[0].ir_version
    return merged


def _member_switch(count: int, pixels: str, classes: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes shared by the gated members: whether all members run, and a batch of zeros [N, classes]
    that stands in for a member left out. Weights: MEMBER_INPUT's default and the mean's share."""
    nodes = [
        helper.make_node("Equal", [MEMBER_INPUT, "all_members"], ["everyone"], name="switch_all"),
        helper.make_node("Shape", [pixels], ["pixels_shape"], name="switch_shape", start=0, end=1),
        helper.make_node("Concat", ["pixels_shape", "class_count"], ["probs_shape"], name="switch_concat", axis=0),
        helper.make_node("ConstantOfShape", ["probs_shape"], ["no_probs"], name="switch_zeros",
                         value=helper.make_tensor("zero", onnx.TensorProto.FLOAT, [1], [0.0])),
    ]
    weights = [helper.make_tensor(MEMBER_INPUT, onnx.TensorProto.INT64, [], [ALL_MEMBERS]),
               helper.make_tensor("all_members", onnx.TensorProto.INT64, [], [ALL_MEMBERS]),
               helper.make_tensor("class_count", onnx.TensorProto.INT64, [1], [classes]),
               helper.make_tensor("mean_share", onnx.TensorProto.FLOAT, [], [1.0 / count]),
               helper.make_tensor("one", onnx.TensorProto.FLOAT, [], [1.0])]
    return nodes, weights


def _gated_member(i: int, body: list, local: list, out: str) -> list[onnx.NodeProto]:
    """Nodes that run member i (its nodes `body`, weights `local`, output `out`) only when all members
    or it alone are asked for, and weigh its output: 1/count in the mean, 1 alone, else 0. The
    weights live inside the If's branch: onnxruntime lays out a branch's convolutions for its
    fast kernels only when their weights are the branch's own (13 ms against 21 a batch of 12)."""
    p = f"m{i}_"
    ran = helper.make_tensor_value_info(p + "ran", onnx.TensorProto.FLOAT, None)
    then = helper.make_graph(body + [helper.make_node("Identity", [out], [p + "ran"], name=p + "ran")],
                             p + "runs", [], [ran], local)
    skipped = helper.make_graph([helper.make_node("Identity", ["no_probs"], [p + "ran"], name=p + "skipped")],
                                p + "skipped", [], [ran])
    return [
        helper.make_node("Constant", [], [p + "index"], name=p + "index",
                         value=helper.make_tensor(p + "index_value", onnx.TensorProto.INT64, [], [i])),
        helper.make_node("Equal", [MEMBER_INPUT, p + "index"], [p + "alone"], name=p + "alone"),
        helper.make_node("Or", ["everyone", p + "alone"], [p + "runs"], name=p + "gate"),
        helper.make_node("If", [p + "runs"], [p + "probs"], name=p + "if", then_branch=then, else_branch=skipped),
        # share = 1/count when everyone runs, else 1 (alone) or 0 (left out, its probs zeros anyway)
        helper.make_node("Where", ["everyone", "mean_share", "one"], [p + "weight"], name=p + "weight"),
        helper.make_node("Mul", [p + "probs", p + "weight"], [p + "share"], name=p + "share"),
    ]


def _copy_graph(graph: onnx.GraphProto, prefix: str, input_name: str, nodes: list, weights: list, what: str) -> str:
    """Append the nodes and weights that compute `graph`'s first output, renamed with `prefix` and fed
    `input_name`; return that output's new name. A member's other outputs (a shipped file's own
    letter detector) are left out with the nodes only they need; a member that is itself an
    ensemble is taken whole, its optional member input fixed at its default (the mean)."""
    plain = [i for i in graph.input if i.name not in {w.name for w in graph.initializer}]
    if len(plain) != 1 or not graph.output:
        raise ValueError(f"{what} must have one input and an output")
    names = {plain[0].name: input_name}

    def rename(name: str) -> str:
        return names.get(name, prefix + name) if name else name

    needed, used = {graph.output[0].name}, []
    for node in reversed(graph.node):
        if needed & set(node.output):
            used.append(node)
            needed.update(node.input)
            needed.update(_outer_names(node))
    for node in reversed(used):
        nodes.append(_renamed(node, rename))
    for init in graph.initializer:
        if init.name in needed:
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            copy.name = rename(init.name)
            weights.append(copy)
    return rename(graph.output[0].name)


def _renamed(node: onnx.NodeProto, rename) -> onnx.NodeProto:
    """A copy of `node` with every name in it, those inside its branches too, passed through `rename`."""
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.name = rename(node.name)
    copy.input[:] = [rename(n) for n in node.input]
    copy.output[:] = [rename(n) for n in node.output]
    for sub in _branches(copy):
        inner = [_renamed(n, rename) for n in sub.node]
        del sub.node[:]
        sub.node.extend(inner)
        for value in [*sub.input, *sub.output, *sub.value_info]:
            value.name = rename(value.name)
        for init in sub.initializer:
            init.name = rename(init.name)
    return copy


def _branches(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [g for a in node.attribute for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs)]


def _outer_names(node: onnx.NodeProto) -> set[str]:
    """Names a node's branches take from the graph around them (the implicit inputs of an If)."""
    names: set[str] = set()
    for sub in _branches(node):
        made = {w.name for w in sub.initializer} | {i.name for i in sub.input} | {o for n in sub.node for o in n.output}
        for inner in sub.node:
            names.update(n for n in inner.input if n and n not in made)
            names.update(_outer_names(inner) - made)
    return names


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
    parser.add_argument("--cascade", type=int, default=None, metavar="K",
                        help="read every crop with member K (0 = the first named) and only those it reads under "
                             "--cascade-sure with the others too: about half the model's time (default: always all)")
    parser.add_argument("--cascade-sure", type=FRACTION, default=CASCADE_SURE, metavar="P",
                        help=f"with --cascade: how surely member K must read a crop alone (default: {CASCADE_SURE})")
    for kind, what in (("photo", "photos (camera frames)"), ("canvas", "canvas drawings")):
        parser.add_argument(f"--{kind}-mean", type=int, nargs="+", default=None, metavar="K",
                            help=f"with --cascade: the members (0 = the first named; K among them) whose mean reads "
                                 f"the crops of {what} that K doubts, e.g. a member tuned to drawn strokes for "
                                 f"canvases only (default: all)")
    parser.add_argument("--letter-like", type=real(0.0, 1.0, above=True), default=None, metavar="P",
                        help="with --letters and a canvas mean other than the photo one: a crop K doubts on a "
                             "canvas that the letter detector scores P or more is read by the photo mean "
                             f"(default: {LETTER_LIKE})")
    parser.add_argument("--note", default="", help="free text for the model card")
    parser.add_argument("--check-digits", type=int, default=2000,
                        help="real test digits on which the file must equal the mean of its members (default: 2000)")
    return parser


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    data_dir = mnist.data_dir_or_exit(args.data)
    x_test, y_test = mnist.load_split(data_dir, "test")
    # Everything is read before anything is written: --out may be one of the members.
    members = [load_onnx(p) for p in args.models]
    cards = [_card_beside(p) for p in args.models]
    letters = load_onnx(args.letters) if args.letters else None
    try:
        meta = ensemble_metadata(members, [p.name for p in args.models])
        if args.min_confidence is not None:
            meta["min_confidence"] = str(args.min_confidence)
        if letters is not None:
            meta.update(letter_metadata(letters, meta, args.letters.name, args.letter_bar))
        if args.cascade is not None:
            meta[CASCADE_KEY] = json.dumps(_cascade_spec(args, len(members)))
        merged = merge(members, letters)
    except ValueError as exc:
        raise SystemExit(f"cannot average these models: {exc}") from exc
    x = x_test.astype(np.float32)[:, None] / 255.0
    member_probs = [Recognizer(p, provider="cpu", threads=1, whole=True).predict(x)  # before --out is written
                    for p in args.models]
    member_acc = [float((p.argmax(1) == y_test).mean()) for p in member_probs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(args.out))
    add_metadata(args.out, meta)
    rec = Recognizer(args.out, provider="cpu", threads=1, whole=True)
    n = args.check_digits
    diff = float(np.abs(rec.predict(x[:n]) - np.mean([p[:n] for p in member_probs], axis=0)).max())
    if diff > PARITY_TOLERANCE:
        raise SystemExit(f"check failed: the file differs from its members' mean by {diff:.2e}")
    if letters is not None:
        _check_letters(rec, args.letters, x[:n])
    rec = Recognizer(args.out, provider="cpu", threads=1)  # as served: the cascade, if any
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
    if args.cascade is not None:
        card["cascade"] = json.loads(meta[CASCADE_KEY])
    if args.int8:
        q = card["int8"] = _int8_ensemble(args, letters, meta, data_dir, x_test, y_test)
        print(f"int8 {args.out.with_name(q['file'])}: MNIST test {q['mnist_test_accuracy'] * 100:.2f}%, "
              f"{q['ms_per_digit']:.3f} ms/digit, {q['bytes']} bytes")
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


def _int8_ensemble(args: argparse.Namespace, letters: onnx.ModelProto | None, meta: dict[str, str],
                   data_dir: Path, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """OUT-int8.onnx: each member quantised alone (onnxruntime's quantiser leaves the inside of If
    nodes float), then merged as the float file is; the letter detector stays float, as digits do
    not calibrate it. Returns the model card's entry."""
    calibration = calibration_digits(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        quantised = []
        for i, path in enumerate(args.models):
            q = Path(tmp) / f"member{i}.onnx"
            quantize_int8(path, q, calibration, meta)
            quantised.append(onnx.load(str(q)))
        q_path = int8_path(args.out)
        onnx.save(merge(quantised, letters), str(q_path))
    return label_int8(q_path, meta, x_test, y_test)


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


def _cascade_spec(args: argparse.Namespace, count: int) -> dict:
    """The CASCADE_KEY metadata: the first member, its bar and, with --photo-mean or --canvas-mean, each
    kind of frame's mean (webapp.recognizer.MEAN_KINDS) and the letter score from which a canvas crop is
    read by the photo mean."""
    spec = {"first": args.cascade, "sure": args.cascade_sure, "members": count}
    if any(getattr(args, f"{kind}_mean") for kind in MEAN_KINDS):
        spec["means"] = _means(args, count)
        if _letter_like_read(args, count):  # the bar of webapp.recognizer._by_mean
            spec["letter_like"] = LETTER_LIKE if args.letter_like is None else args.letter_like
    return spec


def _means(args: argparse.Namespace, count: int) -> dict[str, list[int]]:
    """Each kind of frame's mean as --photo-mean and --canvas-mean give it (all members by default)."""
    means = {kind: getattr(args, f"{kind}_mean") for kind in MEAN_KINDS}
    return {kind: sorted(set(m)) if m else list(range(count)) for kind, m in means.items()}


def _letter_like_read(args: argparse.Namespace, count: int) -> bool:
    """Whether the reader will use a letter_like bar: with a letter detector and a canvas mean of its own."""
    means = _means(args, count)
    return bool(args.letters) and args.cascade is not None and means["photo"] != means["canvas"]


def _check_args(args: argparse.Namespace) -> None:
    if len(args.models) < 2:
        raise SystemExit("an ensemble needs at least two models")
    if args.min_confidence is not None and not 0.0 < args.min_confidence < 1.0:
        raise SystemExit(f"--min-confidence must be between 0 and 1, not {args.min_confidence}")
    for path in args.models + ([args.letters] if args.letters else []):
        if not path.is_file():
            raise SystemExit(f"model not found: {path}")
    if args.cascade is not None and not 0 <= args.cascade < len(args.models):
        raise SystemExit(f"--cascade must name a member, 0 to {len(args.models) - 1}, not {args.cascade}")
    for kind in MEAN_KINDS:
        mean = getattr(args, f"{kind}_mean")
        known = mean and all(0 <= k < len(args.models) for k in mean)
        if mean and (args.cascade is None or args.cascade not in mean or not known):
            raise SystemExit(f"--{kind}-mean needs --cascade K and names members, K among them")
    if args.letter_bar is not None and not args.letters:
        raise SystemExit("--letter-bar needs --letters")
    if args.letter_like is not None and not _letter_like_read(args, len(args.models)):
        raise SystemExit("--letter-like needs --letters, --cascade and a canvas mean other than the photo mean")
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


def load_onnx(path: Path) -> onnx.ModelProto:
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
