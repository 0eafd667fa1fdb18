"""Attention operators: the package ``attnviz.kernels``, whose modules are ``kernels/*.py``.

Each operator keeps its plain definition beside any faster form; tests hold the
fast forms to the definition. Import from here or from a module::

    from attnviz.kernels import scaled_dot_product_attention
    from attnviz.kernels.masks import make_mask

Why this file, and no ``kernels/__init__.py`` (kernels/README.md says more): the
operators live in the repository's top-level ``kernels/`` folder, which a wheel installs
as ``attnviz/kernels/`` (``package-dir`` in pyproject.toml). Run from the repository
root, Python searches the root first, and a ``kernels/__init__.py`` there would make
``import kernels`` find this project instead of Hugging Face's ``kernels``, which
transformers imports. Without it the folder is only a namespace portion, which any
installed ``kernels`` outranks. setuptools' editable installs cannot import such a
mapped folder on its own (pypa/setuptools#4943), so this module is the package: it
sets ``__path__`` to the folder that holds the operators, which makes every
``attnviz.kernels.<module>`` import from there, installed or editable.
"""

from pathlib import Path as _Path


def _operators_folder() -> str:
    here = _Path(__file__).parent
    for folder in (here / "kernels", here.parent / "kernels"):  # a wheel; a source checkout
        if (folder / "softmax.py").is_file():
            return str(folder)
    raise ImportError(f"attnviz.kernels: no operators beside {here} (kernels/softmax.py)")


__path__ = [_operators_folder()]  # a module with __path__ is a package (import system docs)
__spec__.submodule_search_locations = __path__


# the public operators, importable from attnviz.kernels (after __path__ is set)
from attnviz.kernels.attention import (  # noqa: E402
    OPERATORS,
    Operator,
    causal_mask,
    get_operator,
    linear_operator,
    merge_heads,
    multi_head_attention,
    softmax_operator,
    split_heads,
)
from attnviz.kernels.feature_maps import FEATURE_MAPS, NamedFeatureMap, feature_map  # noqa: E402
from attnviz.kernels.linear import (  # noqa: E402
    LinearAttentionResult,
    delta_rule_attention,
    gated_delta_rule_attention,
    gated_linear_attention,
    linear_attention,
    normalized_attention,
)
from attnviz.kernels.masks import (  # noqa: E402
    MAX_DENSE_LEN,
    PATTERNS,
    MaskPattern,
    check_mask_mod,
    make_mask,
)
from attnviz.kernels.online_softmax import (  # noqa: E402
    OnlineSoftmaxResult,
    attention_tile,
    online_softmax_attention,
)
from attnviz.kernels.rnn import qlstm, qlstm_kernel, rg_lru, rg_lru_kernel  # noqa: E402
from attnviz.kernels.softmax import (  # noqa: E402
    AttentionResult,
    blocked_attention,
    scaled_dot_product_attention,
    softmax_weights,
)
from attnviz.kernels.ssm import (  # noqa: E402
    ScanResult,
    selective_scan,
    selective_scan_kernel,
    ssd_scan,
    ssd_scan_kernel,
)

__all__ = [
    "AttentionResult",
    "blocked_attention",
    "scaled_dot_product_attention",
    "softmax_weights",
    "OnlineSoftmaxResult",
    "attention_tile",
    "online_softmax_attention",
    "OPERATORS",
    "Operator",
    "causal_mask",
    "get_operator",
    "linear_operator",
    "merge_heads",
    "multi_head_attention",
    "softmax_operator",
    "split_heads",
    "MAX_DENSE_LEN",
    "PATTERNS",
    "MaskPattern",
    "check_mask_mod",
    "make_mask",
    "LinearAttentionResult",
    "delta_rule_attention",
    "gated_delta_rule_attention",
    "gated_linear_attention",
    "linear_attention",
    "normalized_attention",
    "FEATURE_MAPS",
    "NamedFeatureMap",
    "feature_map",
    "ScanResult",
    "qlstm",
    "qlstm_kernel",
    "rg_lru",
    "rg_lru_kernel",
    "selective_scan",
    "selective_scan_kernel",
    "ssd_scan",
    "ssd_scan_kernel",
]
