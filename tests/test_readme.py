"""The README's promises: its library example runs, and its commands are the real ones."""

import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_library_example_runs_and_draws_causal_weights():
    example = _code_blocks("python")[0]
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    weights = namespace["weights"]
    assert weights.shape == (6, 6)
    assert torch.all(weights.triu(diagonal=1) == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(6))


def test_own_model_example_captures_every_head_and_builds_the_dashboard():
    example = _code_blocks("python")[1]
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    attention = namespace["attention"]
    assert tuple(attention.weights.shape) == (2, 4, 32, 32)
    dashboard = namespace["AttentionMapsDashboard"](extra_models={"mine": namespace["model"]})
    assert dashboard.model == "mine"


def test_exactly_two_setup_commands_and_ci_uses_the_test_one():
    commands = [block.strip() for block in _code_blocks("bash")[:2]]
    assert commands[0].startswith("pip install torch==2.13.0 -e .")
    assert "attnviz serve" in commands[0]
    assert commands[1] == "bash tools/test.sh"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()  # the README's test command, word for word


def test_screenshot_exists():
    assert (ROOT / "docs" / "screenshot.png").stat().st_size > 10_000
