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
