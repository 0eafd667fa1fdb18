"""Run from the repository root, nothing imports ./kernels as ``kernels`` (kernels/README.md).

transformers 5 depends on Hugging Face's ``kernels`` package and imports it. Python puts
the working folder first on ``sys.path`` for ``python -c``, ``python -m`` (``python -m
pytest`` included) and scripts, so these tests run their commands in a fresh interpreter
whose working folder is the repository root, as a contributor or a user would.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds: a cold import of transformers and torch


def _run_from_root(code: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"from {REPO}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_kernels_folder_is_not_a_regular_package():
    assert not (REPO / "kernels" / "__init__.py").exists(), (
        "kernels/__init__.py turns ./kernels into a package named `kernels` that shadows "
        "Hugging Face's for anything run from the repository root: see kernels/README.md"
    )


def test_import_kernels_from_the_root_finds_the_installed_package():
    found = json.loads(
        _run_from_root(
            "import json, os, sys, kernels\n"
            "print(json.dumps([os.path.abspath(sys.path[0]), kernels.__file__]))"
        )
    )
    first_on_path, kernels_file = found
    assert Path(first_on_path).resolve() == REPO  # the root really is searched first
    try:
        distribution = importlib.metadata.distribution("kernels")
    except importlib.metadata.PackageNotFoundError:
        # no `kernels` installed: ./kernels is only a namespace portion, never a module
        assert kernels_file is None
    else:
        expected = Path(distribution.locate_file("kernels/__init__.py")).resolve()
        assert Path(kernels_file).resolve() == expected


def test_transformers_builds_a_model_from_the_root():
    out = _run_from_root(
        "import transformers\n"
        "from transformers import GPT2Config, GPT2LMHeadModel\n"
        "model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50))\n"
        "print(type(model).__name__, transformers.__version__)"
    )
    assert out.startswith("GPT2LMHeadModel ")


def test_the_readme_examples_run_from_the_root():
    """As a user pastes them into ``python`` started in the checkout."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(examples) >= 2  # on your own tensors; on your own model
    for example in examples:
        _run_from_root(example)


def test_attnviz_kernels_still_import_from_the_root():
    out = _run_from_root(
        "import torch\n"
        "from attnviz.kernels.softmax import scaled_dot_product_attention\n"
        "import attnviz.kernels.softmax as module\n"
        "x = torch.ones(2, 4)\n"
        "print(scaled_dot_product_attention(x, x, x).weights.sum().item(), module.__file__)"
    )
    total, path = out.split()
    assert float(total) == 2.0
    assert Path(path).resolve() == REPO / "kernels" / "softmax.py"
