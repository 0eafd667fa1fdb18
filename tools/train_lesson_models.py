"""Train the course's models and write attnviz/weights/<name>.safetensors.

Usage: python tools/train_lesson_models.py [name ...]   (default: every lesson model)

Each model is trained from its recipe in ``attnviz.models.LESSON_MODELS``; the
file stores the weights, the config, the recipe and the training history (so the
lessons plot training curves without retraining). Training is deterministic, so
running this again on a machine whose CPU kernels round the same way (the same
``numerics_fingerprint()``, stored in each file) writes byte-for-byte the same
files; tests/test_models.py retrains the models and checks that, and everywhere
checks that they behave as the shipped ones (losses, head scores, the phase change).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from attnviz.models import LESSON_MODELS, numerics_fingerprint, save, train_lesson_model

WEIGHTS = Path(__file__).resolve().parents[1] / "attnviz" / "weights"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"of {', '.join(LESSON_MODELS)} (default: all)"
    )
    names = parser.parse_args(argv).names or list(LESSON_MODELS)
    unknown = [name for name in names if name not in LESSON_MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(LESSON_MODELS)}")
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    numerics = numerics_fingerprint()  # this machine's rounding, stored with each model
    for name in names:
        start = time.perf_counter()
        model, history = train_lesson_model(name, progress=True)
        path = save(
            model,
            WEIGHTS / f"{name}.safetensors",
            history=history,
            recipe={"name": name, **LESSON_MODELS[name]},
            numerics=numerics,
        )
        print(
            f"{name}: {time.perf_counter() - start:.1f} s, {path.stat().st_size / 1024:.0f} KiB,"
            f" final loss {history.loss[-1]:.3f} -> {path.relative_to(WEIGHTS.parents[1])}"
        )


if __name__ == "__main__":
    main()
