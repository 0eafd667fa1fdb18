"""Attention operators, installed as ``attnviz.kernels``.

Each operator keeps its plain definition beside any faster form; tests hold the
fast forms to the definition.
"""

from .softmax import (
    AttentionResult,
    blocked_attention,
    scaled_dot_product_attention,
    softmax_weights,
)

__all__ = [
    "AttentionResult",
    "blocked_attention",
    "scaled_dot_product_attention",
    "softmax_weights",
]

from .attention import (  # noqa: E402
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

__all__ += [
    "OPERATORS",
    "Operator",
    "causal_mask",
    "get_operator",
    "linear_operator",
    "merge_heads",
    "multi_head_attention",
    "softmax_operator",
    "split_heads",
]

from .masks import (  # noqa: E402
    MAX_DENSE_LEN,
    PATTERNS,
    MaskPattern,
    check_mask_mod,
    make_mask,
)

__all__ += [
    "MAX_DENSE_LEN",
    "PATTERNS",
    "MaskPattern",
    "check_mask_mod",
    "make_mask",
]

from .linear import (  # noqa: E402
    LinearAttentionResult,
    delta_rule_attention,
    gated_delta_rule_attention,
    gated_linear_attention,
    linear_attention,
    normalized_attention,
)

__all__ += [
    "LinearAttentionResult",
    "delta_rule_attention",
    "gated_delta_rule_attention",
    "gated_linear_attention",
    "linear_attention",
    "normalized_attention",
]

from .feature_maps import FEATURE_MAPS, NamedFeatureMap, feature_map  # noqa: E402

__all__ += ["FEATURE_MAPS", "NamedFeatureMap", "feature_map"]

from .rnn import qlstm, qlstm_kernel, rg_lru, rg_lru_kernel  # noqa: E402
from .ssm import (  # noqa: E402
    ScanResult,
    selective_scan,
    selective_scan_kernel,
    ssd_scan,
    ssd_scan_kernel,
)

__all__ += [
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
