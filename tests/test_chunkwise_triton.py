"""The GPU path is optional: importing it needs no Triton or CUDA, and on a CPU it says
where to go instead. Its numbers are checked against the float64 reference on a GPU by
``tools/gpu_bench.py`` (benchmarks/gpu-chunkwise.json); CI has no GPU."""

import subprocess
import sys

import pytest
import torch

from attnviz.kernels import chunkwise
from attnviz.kernels.chunkwise_triton import (
    CHUNK_SIZES,
    chunkwise_linear_attention_triton,
    triton_available,
)


def test_importing_the_gpu_kernel_imports_no_triton():
    code = "import sys; import attnviz.kernels.chunkwise_triton; print('triton' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_triton_is_available_only_with_a_cuda_device():
    if not torch.cuda.is_available():
        assert triton_available() is False


def test_on_a_cpu_it_points_to_the_reference_that_exists():
    q = torch.randn(1, 2, 64, 16)
    with pytest.raises(ValueError, match="chunkwise_linear_attention") as refused:
        chunkwise_linear_attention_triton(q, q, q, decay=0.9)
    assert "CUDA" in str(refused.value)
    assert callable(chunkwise.chunkwise_linear_attention)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"chunk_size": 48}, "chunk_size"), ({"decay": 0.0}, "decay"), ({"decay": 1.5}, "decay"),
     ({"decay": torch.full((3,), 0.9)}, "one λ per head"), ({"exact_float32": 1}, "exact_float32")],
)  # fmt: skip
def test_bad_arguments_are_named_before_the_device_is_looked_at(kwargs, word):
    q = torch.randn(1, 2, 64, 16)
    with pytest.raises((ValueError, TypeError), match=word):
        chunkwise_linear_attention_triton(q, q, q, **kwargs)


def test_head_sizes_and_dtypes_the_kernel_is_built_for():
    with pytest.raises(ValueError, match="d_k must be one of"):
        chunkwise_linear_attention_triton(*(torch.randn(1, 1, 8, 48) for _ in range(3)))
    q = torch.randn(1, 1, 8, 16)
    with pytest.raises(TypeError, match="share one dtype"):
        chunkwise_linear_attention_triton(q.bfloat16(), q, q)
    assert all(size & (size - 1) == 0 and size >= 16 for size in CHUNK_SIZES)
