"""Take an ensemble file (`digitcam ensemble`) apart into its members and its letter detector.

The training runs behind a shipped file do not travel with it, but its float file holds every
member whole. Taken apart, the members can be merged again with a new one (`digitcam ensemble
A.onnx B.onnx NEW.onnx --letters L.onnx`) without retraining the old ones; each comes out as the
float file `digitcam export` wrote (input `pixels`, output `probs`, the input contract and its own
card in the metadata). Torch-free.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnx
from onnx import helper

from export.ensemble import LETTER_KEYS, LETTER_PREFIX, MEMBER_KEYS, SHARED_KEYS, load_onnx
from webapp.recognizer import LETTER_OUTPUT

INPUT = "pixels"  # the input of every member and of the detector, as `digitcam export` names it
OUTPUT = "probs"


def _meta(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def _unprefixed_copies(nodes, weights, prefix: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Copies of a merged part's nodes and weights with the prefix `digitcam ensemble` gave their names
    taken off again (names without it, like the shared input, are kept)."""
    def rename(name: str) -> str:
        return name[len(prefix):] if name.startswith(prefix) else name

    copies = []
    for node in nodes:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = rename(node.name)
        copy.input[:] = [rename(n) for n in node.input]
        copy.output[:] = [rename(n) for n in node.output]
        copies.append(copy)
    renamed = []
    for weight in weights:
        copy = onnx.TensorProto()
        copy.CopyFrom(weight)
        copy.name = rename(weight.name)
        renamed.append(copy)
    return copies, renamed


def _model(nodes: list[onnx.NodeProto], weights: list[onnx.TensorProto], output: str, out_type: onnx.ValueInfoProto,
           like: onnx.ModelProto, meta: dict[str, str], name: str) -> onnx.ModelProto:
    pixels = next(i for i in like.graph.input if i.name == INPUT)
    graph = helper.make_graph(nodes, name, [pixels], [out_type], weights)
    graph.output[0].name = output
    model = helper.make_model(graph, opset_imports=list(like.opset_import))
    model.ir_version = like.ir_version
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model


def _card_metadata(card: dict, keys: tuple[str, ...]) -> dict[str, str]:
    """The entries of a merged part's card (the ensemble's metadata) that its own file carries, as text."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in card.items() if k in keys}


def _then_branch(node: onnx.NodeProto) -> onnx.GraphProto:
    return next(a.g for a in node.attribute if a.name == "then_branch")


def members(model: onnx.ModelProto) -> list[onnx.ModelProto]:
    """Each member of a float ensemble file as a model of its own, in the file's order."""
    meta = _meta(model)
    cards = json.loads(meta.get("ensemble", "[]"))
    gates = {n.name: n for n in model.graph.node if n.op_type == "If"}
    if not cards or any(f"m{i}_if" not in gates for i in range(len(cards))):
        raise ValueError("not a digitcam ensemble file: no members to take apart")
    shared = {k: meta[k] for k in SHARED_KEYS}
    out = []
    for i, card in enumerate(cards):
        prefix = f"m{i}_"
        branch = _then_branch(gates[prefix + "if"])
        if any(init.data_type != onnx.TensorProto.FLOAT for init in branch.initializer if init.dims):
            raise ValueError("an int8 file cannot be taken apart: use the float one")
        nodes, weights = _unprefixed_copies([n for n in branch.node if n.name != prefix + "ran"],  # not the Identity
                                            branch.initializer, prefix)                          # to the If's output
        if nodes[-1].output[0] != OUTPUT:
            raise ValueError(f"member {i} does not end in {OUTPUT!r}")
        own = _card_metadata(card, MEMBER_KEYS)
        probs = next(o for o in model.graph.output if o.name == OUTPUT)
        out.append(_model(nodes, weights, OUTPUT, probs, model, {**shared, **own}, f"member{i}"))
    return out


def letter_detector(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """The letter detector inside an ensemble file as a model of its own, or None when it has none."""
    meta = _meta(model)
    if "letters" not in meta:
        return None
    nodes, weights = _unprefixed_copies(
        [n for n in model.graph.node if n.name.startswith(LETTER_PREFIX) and n.name != "letter_out"],
        [w for w in model.graph.initializer if w.name.startswith(LETTER_PREFIX)], LETTER_PREFIX)
    card = json.loads(meta["letters"])
    own = _card_metadata(card, LETTER_KEYS)
    own["letter_bar"] = str(card.get("letter_bar", meta.get("letter_bar")))
    contract = {k: meta[k] for k in SHARED_KEYS if k != "labels"}
    letter = next(o for o in model.graph.output if o.name == LETTER_OUTPUT)
    return _model(nodes, weights, LETTER_OUTPUT, letter, model, {**contract, "output": LETTER_OUTPUT, **own},
                  "letter_detector")


def take_apart(path: Path, out_dir: Path) -> list[Path]:
    """Write each member and, when there is one, the letter detector into `out_dir`, under the names
    they had when merged (the file's cards; member0.onnx, member1.onnx, ... and letters.onnx when
    unknown), in the file's order, with each member's own card (NAME.json) where the ensemble's
    card beside `path` holds it; return the model files' paths."""
    model = load_onnx(path)  # a clear exit for a file that is not ONNX
    out_dir.mkdir(parents=True, exist_ok=True)
    meta, nets, letters = _meta(model), members(model), letter_detector(model)
    defaults = [f"member{i}.onnx" for i in range(len(nets))] + ["letters.onnx"] * (letters is not None)
    cards = json.loads(meta["ensemble"]) + ([json.loads(meta["letters"])] if letters is not None else [])
    names = [_file_name(card, default) for card, default in zip(cards, defaults)]
    if len(set(names)) != len(names):  # two parts merged under one name: numbered instead, cards too
        names = defaults
    written = []
    for name, part in zip(names, nets + [letters] * (letters is not None)):
        written.append(out_dir / name)
        onnx.save(part, str(written[-1]))
    for name, card in zip(names, _member_cards(path, len(nets))):
        if card is not None:  # `digitcam ensemble` keeps a member's card when it lies beside it
            (out_dir / name).with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return written


def _member_cards(path: Path, count: int) -> list[dict | None]:
    """Each member's own model card, from the ensemble's card beside it (PATH.json), where it has them."""
    try:
        members = json.loads(path.with_suffix(".json").read_text()).get("members", [])
    except (OSError, ValueError, AttributeError):
        return [None] * count
    if not isinstance(members, list) or len(members) != count:
        return [None] * count
    return [m.get("card") if isinstance(m, dict) and isinstance(m.get("card"), dict) else None for m in members]


def _file_name(card: dict, default: str) -> str:
    """The name a part had when it was merged (its card's "file"), reduced to a plain file name."""
    name = Path(str(card.get("file", ""))).name
    return name if name.endswith(".onnx") and not name.startswith(".") else default


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("model", type=Path, help="a float ensemble file (e.g. webapp/models/digits.onnx)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder to write the members and the letter detector into, named as when merged")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        written = take_apart(args.model, args.out)
    except (OSError, ValueError, onnx.checker.ValidationError) as exc:
        raise SystemExit(f"cannot take {args.model} apart: {exc}") from exc
    for path in written:
        print(path)
    return 0
