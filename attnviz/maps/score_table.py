"""Every map-only head score of one sequence at once: the table of lesson 03.

``head_scores`` gathers the scores of ``patterns`` (previous-token, duplicate-token,
induction) and ``focus`` (first-token sink, entropy) into one dict of (L, H) arrays,
the rows of lesson 03's table and of its dashboard's heat map.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnviz.maps.attention_maps import AttentionMaps
from attnviz.maps.focus import entropy, sink_score
from attnviz.maps.patterns import duplicate_token_score, induction_score, previous_token_score
from attnviz.validation import check_bool


def head_scores(maps: Any, *, exclude_bos: bool = False) -> dict[str, np.ndarray]:
    """Every map-only head score, each (L, H): the table of lesson 03.

    Keys: ``previous_token``, ``duplicate_token`` and ``induction`` (only when
    the maps hold token ids), ``sink`` (α of position 0) and ``entropy``.
    ``maps`` is an AttentionMaps or an (L, H, T, T) array (which holds no ids).
    """
    exclude_bos = check_bool("exclude_bos", exclude_bos)
    out = {"previous_token": previous_token_score(maps, exclude_bos=exclude_bos)}
    if isinstance(maps, AttentionMaps) and maps.input_ids is not None:
        out["duplicate_token"] = duplicate_token_score(maps, exclude_bos=exclude_bos)
        out["induction"] = induction_score(maps, exclude_bos=exclude_bos)
    out["sink"] = sink_score(maps)
    out["entropy"] = entropy(maps)
    return out
