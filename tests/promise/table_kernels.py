"""Table entries for ``attnviz.kernels``: masks, softmax, linear, SSM, RNN, feature maps."""

from __future__ import annotations

from attnviz.kernels import masks

from .kinds import Entry, Int, Receiver

PATTERNS = tuple(
    (lambda name=name: masks.make_mask(name)) for name in ("causal", "sliding_window", "dilated")
)
SEQ_LEN = Int(1, masks.MAX_DISTANCE_LEN, typical=(1, 64))

ENTRIES: list[Entry] = [
    Entry("attnviz.kernels.masks.causal", {}),
    Entry(
        "attnviz.kernels.masks.MaskPattern.distances",
        {"pattern": Receiver(*PATTERNS), "seq_len": SEQ_LEN},
        call=lambda pattern, seq_len: pattern.distances(seq_len),
    ),
]

EXCLUDED: dict[str, str] = {}
