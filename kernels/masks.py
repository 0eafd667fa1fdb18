"""The sparse-attention mask zoo, written as FlexAttention ``mask_mod`` functions.

Every pattern is a :class:`MaskPattern`. Its ``mask_mod(b, h, q_idx, kv_idx)``
follows the convention of ``torch.nn.attention.flex_attention``: it receives
integer index tensors and returns a boolean tensor, True where query ``q_idx``
may attend key ``kv_idx``. The rules use torch operations on the index tensors
only (no Python branching on their values), so ``create_block_mask`` can trace
them and ``flex_attention`` can skip the empty blocks. The same rule, evaluated
on a grid, gives the dense boolean matrix a lesson draws (``dense(seq_len)``),
and patterns defined by relative distances also give their distance set
(``distances(seq_len)``), which the receptive-field code uses for its fast path.

All patterns are causal except ``full``. ``d = q_idx - kv_idx`` is the distance
from a query back to a key.

=================  ===================================================================
pattern            query i may attend key j (i >= j) iff
=================  ===================================================================
full               always (not causal)
causal             always
sliding_window     d < window, or j < sink_tokens
dilated            d < window and d % rate == 0, or j < sink_tokens
strided            d < stride, or d % stride == 0                 (Sparse Transformer)
fixed              i // block == j // block, or j % block >= block - c
longformer         d < window, or j < global_tokens, or i < global_tokens
bigbird            d < window, or j < global_tokens, or i < global_tokens, or j is one
                   of the query's random_keys seeded random keys in [0, i]
longnet            for some (w, r): i // w == j // w and (i % w) % r == (j % w) % r == 0
stride_slash       d < window, or d % stride == 0, or j < sink_tokens
power_attention    with blk = i // b - j // b: (sink_block and j < b), or blk < W,
                   or blk & (blk - 1) == 0 (blk is 0 or a power of two)
=================  ===================================================================

Sources:

* Sliding window with attention sinks: Longformer (Beltagy, Peters, Cohan 2020,
  arXiv 2004.05150) and StreamingLLM (Xiao et al. 2023, arXiv 2309.17453). Here
  ``window`` counts the keys a query sees, itself included: distances 0 .. window-1.
* Dilated: Longformer's dilated sliding window, in the form PowerAttention
  (Chen et al. 2025, arXiv 2503.03588) compares against ("a 20-block window, even
  block distances only" is ``dilated(20, 2)``): ``window`` is the span, so a query
  sees ceil(window / rate) keys.
* Strided and fixed: Sparse Transformer (Child, Gray, Radford, Sutskever 2019,
  arXiv 1904.10509), §4.2. The paper splits each pattern over two heads, A(1) and A(2);
  here a pattern is their union, what a layer with both heads can read. Strided:
  A(1) = the previous ``stride`` positions, A(2) = every ``stride``-th position back.
  Fixed: A(1) = the query's own block of length ``block``, A(2) = the last ``c``
  positions ("summary" cells) of every block.
* Longformer: window plus ``global_tokens`` global positions (the first ones), which
  attend to everything and are attended by everything; in this causal form a global
  query only has earlier keys, so global tokens act as sinks.
* BigBird (Zaheer et al. 2020, arXiv 2007.14062): window + global + random keys,
  at token level. BigBird is an encoder and draws random keys among all positions;
  to keep the pattern causal each query here draws its ``random_keys`` keys among
  its own past [0, i] with a seeded integer hash of (query, draw, seed), so the
  pattern is deterministic and the same for every sequence length (two draws may
  coincide, or fall inside the window).
* LongNet (Ding et al. 2023, arXiv 2307.02486): split the sequence into segments of
  length w, keep every r-th position of each segment, attend within the kept set;
  several (w, r) pairs are mixed, so a layer reads their union. LongNet shifts the
  kept positions by the head index (offset h mod r); this is the single-head form,
  offset 0.
* Stride-slash: the baseline of PowerAttention's Table (PAPERS.md §3): "6 window +
  1 sink + 3 slash (blk % stride == 0)", where blk is the distance: a local window,
  a sink (the vertical line) and slash lines, diagonals every ``stride`` positions.
* PowerAttention: Algorithm 1 of the paper, exactly (PAPERS.md §3). With block size
  1, window 1 and no sink it is the token-level pattern whose distances are
  {0} ∪ {2^k}. The paper's experiments use block 256, window 5 blocks, a sink block.

The paper's comparisons are made between blocks of 256 tokens; ``MaskPattern.blocked``
lifts any token-level pattern to blocks (query i may see key j iff the pattern lets
block i // b see block j // b, and i >= j for a causal pattern). For PowerAttention,
``power_attention(1, W, sink).blocked(b)`` equals ``power_attention(b, W, sink)``.

Example:
    >>> from attnviz.kernels.masks import make_mask
    >>> make_mask("sliding_window", window=3).dense(5).astype(int)
    array([[1, 0, 0, 0, 0],
           [1, 1, 0, 0, 0],
           [1, 1, 1, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 1, 1, 1]])
    >>> make_mask("power_attention").distances(20).tolist()
    [0, 1, 2, 4, 8, 16]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from attnviz.memory_budget import check_bytes
from attnviz.validation import check_bool, check_choice, check_int, check_text

__all__ = [
    "MAX_DENSE_LEN",
    "MaskMod",
    "MaskPattern",
    "PATTERNS",
    "bigbird",
    "causal",
    "check_mask_mod",
    "dilated",
    "fixed",
    "full",
    "longformer",
    "longnet",
    "make_mask",
    "power_attention",
    "sliding_window",
    "stride_slash",
    "strided",
]

MaskMod = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

#: The longest sequence ``dense`` materialises: a 16,384² boolean matrix is 256 MiB.
MAX_DENSE_LEN = 16_384
#: The longest sequence ``distances`` describes (distance sets are small arrays).
MAX_DISTANCE_LEN = 1 << 30
#: Most random keys per query in ``bigbird`` (each is one term of the mask_mod).
MAX_RANDOM_KEYS = 64
#: The largest window, stride, block, sink or segment a pattern takes: the longest
#: sequence any method describes (larger values all mean "the whole sequence").
MAX_SPAN = MAX_DISTANCE_LEN
#: The most element-terms ``dense`` evaluates (seq_len² times the terms of the rule:
#: one, plus one per bigbird random key and per longnet pair): a few seconds of work.
MAX_DENSE_WORK = 8 * MAX_DENSE_LEN**2
#: The longest sequence ``block_mask`` builds (create_block_mask evaluates the whole
#: (seq_len, seq_len) grid in int64 on the way).
MAX_BLOCK_MASK_LEN = MAX_DENSE_LEN
# Rows of the dense matrix evaluated at once: about 4M elements per chunk.
_CHUNK_ELEMENTS = 1 << 22


def _check_seq_len(seq_len: Any, cap: int = MAX_DENSE_LEN) -> int:
    return check_int("seq_len", seq_len, low=1, high=cap)


def _span(name: str, value: Any, low: int = 1) -> int:
    """A window, stride, block or token count: an integer in [low, MAX_SPAN]."""
    return check_int(name, value, low=low, high=MAX_SPAN)


def _with_size(rule: Callable[[int], Any], size: Callable[[int], int]) -> Callable[[int], Any]:
    """Attach to a distance rule the number of distances it gives for a length n."""
    rule.size = size  # type: ignore[attr-defined]
    return rule


def _describe(mask_mod: Any) -> str:
    return getattr(mask_mod, "__name__", type(mask_mod).__name__)


def _evaluate(mask_mod: MaskMod, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
    """Call ``mask_mod`` on broadcasting index tensors; check it gives booleans."""
    zero = torch.zeros((), dtype=torch.int64)
    try:
        out = mask_mod(zero, zero, q_idx, kv_idx)
    except Exception as error:  # a user's function: say where it failed
        raise TypeError(
            f"mask_mod {_describe(mask_mod)!r} failed when called as mask_mod(b, h, q_idx, "
            f"kv_idx) with int64 index tensors: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"mask_mod {_describe(mask_mod)!r} must return a torch.Tensor of booleans, got "
            f"{type(out).__name__}; build it from torch operations on q_idx and kv_idx"
        )
    if out.dtype != torch.bool:
        raise TypeError(
            f"mask_mod {_describe(mask_mod)!r} must return a boolean tensor (True = may "
            f"attend), got dtype {out.dtype}; compare, e.g. `q_idx >= kv_idx`"
        )
    shape = torch.broadcast_shapes(q_idx.shape, kv_idx.shape)
    try:
        return out.broadcast_to(shape)
    except RuntimeError:
        raise ValueError(
            f"mask_mod {_describe(mask_mod)!r} must return one value per (q_idx, kv_idx) "
            f"pair, shape {tuple(shape)}, got shape {tuple(out.shape)}"
        ) from None


def check_mask_mod(mask_mod: Any, seq_len: int = 16) -> torch.Tensor:
    """Check ``mask_mod`` on a ``seq_len`` × ``seq_len`` grid; return its boolean matrix.

    Raises TypeError if ``mask_mod`` is not callable, fails on index tensors or does
    not return a boolean tensor, and ValueError if its result has the wrong shape.
    ``seq_len`` is in [1, MAX_DENSE_LEN], and the grid must fit the memory budget.
    """
    if not callable(mask_mod):
        raise TypeError(
            f"mask_mod must be a callable mask_mod(b, h, q_idx, kv_idx) -> bool tensor, "
            f"got {type(mask_mod).__name__}"
        )
    seq_len = _check_seq_len(seq_len)
    check_bytes(
        f"the ({seq_len}, {seq_len}) grid that check_mask_mod evaluates",
        seq_len * seq_len * (3 * 8 + 1),
        instead="use a shorter seq_len",
    )
    index = torch.arange(seq_len, dtype=torch.int64)
    return _evaluate(mask_mod, index[:, None], index[None, :])


def _as_distances(values: Any, seq_len: int) -> np.ndarray:
    d = np.asarray(values, dtype=np.int64)
    if d.ndim != 1 or not bool(np.all(d[1:] > d[:-1])):  # the built-in rules are sorted
        d = np.unique(d)
    return d[(d >= 0) & (d < seq_len)]


@dataclass(frozen=True, eq=False)
class MaskPattern:
    """A named attention mask: a FlexAttention ``mask_mod`` plus what it is.

    Attributes:
        name: the pattern's name, e.g. ``"sliding_window"``.
        mask_mod: ``mask_mod(b, h, q_idx, kv_idx) -> bool tensor`` (True = may attend).
        params: the parameters it was built with, for display.
        causal: True if no query ever sees a later key.
        distance_rule: for patterns defined by relative distances only, a function
            ``seq_len -> distances``; None otherwise. Use :meth:`distances`.
        trusted: True for the built-in patterns; a user's ``mask_mod`` is checked
            every time :meth:`dense` evaluates it.
    """

    name: str
    mask_mod: MaskMod = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    causal: bool = True
    distance_rule: Callable[[int], Any] | None = field(default=None, repr=False)
    trusted: bool = field(default=False, repr=False)

    @classmethod
    def from_mask_mod(
        cls,
        name: str,
        mask_mod: Any,
        *,
        causal: bool = False,
        params: dict[str, Any] | None = None,
    ) -> MaskPattern:
        """Wrap a user's ``mask_mod``; it is checked now on a small grid and on every
        :meth:`dense` call. ``causal=True`` is a promise that :meth:`dense` verifies."""
        check_text("name", name)
        check_bool("causal", causal)
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"params must be a dict or None, got {type(params).__name__}")
        check_mask_mod(mask_mod, 16)
        return cls(name, mask_mod, dict(params or {}), causal, None, False)

    def __post_init__(self) -> None:
        check_text("name", self.name)
        if not callable(self.mask_mod):
            raise TypeError(
                "mask_mod must be a callable mask_mod(b, h, q_idx, kv_idx) -> bool tensor, "
                f"got {type(self.mask_mod).__name__}"
            )
        if not isinstance(self.params, dict):
            raise TypeError(f"params must be a dict, got {type(self.params).__name__}")
        check_bool("causal", self.causal)
        if self.distance_rule is not None and not callable(self.distance_rule):
            raise TypeError(
                "distance_rule must be None or a callable seq_len -> distances, got "
                f"{type(self.distance_rule).__name__}"
            )
        check_bool("trusted", self.trusted)

    def dense(self, seq_len: int) -> np.ndarray:
        """The (seq_len, seq_len) boolean matrix, True where query i may attend key j.

        Evaluated from ``mask_mod`` in row chunks; ``seq_len`` must be in
        [1, MAX_DENSE_LEN] (16,384: a 256 MiB matrix), the matrix must fit the memory
        budget (``attnviz.memory_budget``), and a built-in rule with many terms
        (bigbird's random keys, longnet's pairs) at most MAX_DENSE_WORK element-terms.
        """
        seq_len = _check_seq_len(seq_len)
        check_bytes(
            f"the dense ({seq_len}, {seq_len}) mask of pattern {self.name!r}",
            seq_len * seq_len,
            instead="use a shorter seq_len, or distances(seq_len) for an offset pattern",
        )
        if self.trusted:
            terms = 1 + int(self.params.get("random_keys", 0))
            terms += len(self.params.get("segment_lengths", ()))
            if seq_len * seq_len * terms > MAX_DENSE_WORK:
                longest = int((MAX_DENSE_WORK / terms) ** 0.5)
                raise ValueError(
                    f"seq_len={seq_len} is too long for the dense mask of pattern "
                    f"{self.name!r}: its rule has {terms} terms, and seq_len² x terms must "
                    f"stay within MAX_DENSE_WORK={MAX_DENSE_WORK} (seq_len <= {longest} here)"
                )
        # The built-in rules run on int32 indices (several times faster than int64
        # for // and %) and, when causal, only on the keys up to the chunk's last row.
        dtype = torch.int32 if self.trusted else torch.int64
        skip_future = self.trusted and self.causal
        out = np.zeros((seq_len, seq_len), dtype=bool)
        keys = torch.arange(seq_len, dtype=dtype)[None, :]
        zero = torch.zeros((), dtype=dtype)
        step = max(1, _CHUNK_ELEMENTS // seq_len)
        for start in range(0, seq_len, step):
            stop = min(seq_len, start + step)
            rows = torch.arange(start, stop, dtype=dtype)[:, None]
            width = stop if skip_future else seq_len
            if self.trusted:
                block = self.mask_mod(zero, zero, rows, keys[:, :width])
                block = block.broadcast_to(stop - start, width)
            else:
                block = _evaluate(self.mask_mod, rows, keys)
            out[start:stop, :width] = block.numpy()
        if not self.trusted and self.causal and np.triu(out, 1).any():
            i, j = np.argwhere(np.triu(out, 1))[0]
            raise ValueError(
                f"pattern {self.name!r} was declared causal=True but its mask_mod lets "
                f"query {i} attend the later key {j}; pass causal=False"
            )
        return out

    def distances(self, seq_len: int) -> np.ndarray | None:
        """The distances d (0 <= d < seq_len) such that query i sees key i - d, or None.

        Not None only for patterns defined by relative distances alone: then query i
        attends exactly the keys {i - d : d in distances, i - d >= 0}. Sorted int64.
        ``seq_len`` must be in [1, 2**30], and the distance set (seq_len numbers for a
        dense pattern such as ``causal``) must fit the memory budget.
        """
        seq_len = _check_seq_len(seq_len, MAX_DISTANCE_LEN)
        if self.distance_rule is None:
            return None
        size = getattr(self.distance_rule, "size", None)
        count = seq_len if size is None else min(seq_len, size(seq_len))
        # the rule's arrays, np.unique's sorted copy and the mask: about 4 int64 copies
        check_bytes(
            f"the distance set of pattern {self.name!r} for seq_len={seq_len} ({count} distances)",
            32 * count,
            instead="use a shorter seq_len",
        )
        return _as_distances(self.distance_rule(seq_len), seq_len)

    def block_mask(self, seq_len: int, block_size: int = 128, device: str = "cpu"):
        """``torch.nn.attention.flex_attention.create_block_mask`` for this pattern.

        ``seq_len`` and ``block_size`` in [1, MAX_BLOCK_MASK_LEN]; the (seq_len, seq_len)
        grid (padded to whole blocks) that create_block_mask evaluates (int64 indices and
        booleans) must fit the memory budget. ``device`` is a torch device name.
        """
        from torch.nn.attention.flex_attention import create_block_mask

        seq_len = _check_seq_len(seq_len, MAX_BLOCK_MASK_LEN)
        block_size = check_int("block_size", block_size, low=1, high=MAX_BLOCK_MASK_LEN)
        device = _check_device(device)
        padded = -(-seq_len // block_size) * block_size  # whole blocks
        check_bytes(
            f"the ({padded}, {padded}) grid that create_block_mask evaluates (seq_len="
            f"{seq_len} in blocks of block_size={block_size})",
            padded * padded * (3 * 8 + 1),
            instead="use a shorter seq_len",
        )
        return create_block_mask(
            self.mask_mod, None, None, seq_len, seq_len, device=device, BLOCK_SIZE=block_size
        )

    def blocked(self, block_size: int) -> MaskPattern:
        """This pattern between blocks of ``block_size`` tokens.

        Query i may attend key j iff the pattern lets block i // block_size attend
        block j // block_size (and, for a causal pattern, i >= j). This is how the
        PowerAttention paper applies every pattern it compares (blocks of 256).
        """
        size = _span("block_size", block_size)
        inner, causal_ = self.mask_mod, self.causal

        def mask_mod(b, h, q_idx, kv_idx):
            allowed = inner(b, h, q_idx // size, kv_idx // size)
            return allowed & (q_idx >= kv_idx) if causal_ else allowed

        rule = self.distance_rule if size == 1 else None
        params = {**self.params, "blocked": size}
        return MaskPattern(self.name, mask_mod, params, self.causal, rule, self.trusted)


def _check_device(device: Any) -> torch.device:
    if isinstance(device, torch.device):
        return device
    check_text("device", device)
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be a torch device name like 'cpu', got {device!r}") from None


def _pattern(name, mask_mod, params, *, causal=True, distance_rule=None) -> MaskPattern:
    mask_mod.__name__ = name
    return MaskPattern(name, mask_mod, params, causal, distance_rule, True)


def full() -> MaskPattern:
    """Every query attends every key, later ones included (not causal): an encoder."""

    def mask_mod(b, h, q_idx, kv_idx):
        return (q_idx >= 0) & (kv_idx >= 0)

    return _pattern("full", mask_mod, {}, causal=False)


def causal() -> MaskPattern:
    """Every query attends itself and every earlier key: a decoder's full attention."""

    def mask_mod(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx

    return _pattern("causal", mask_mod, {}, distance_rule=_with_size(lambda n: np.arange(n), int))


def sliding_window(window: int = 4, sink_tokens: int = 0) -> MaskPattern:
    """The last ``window`` keys, the query included (distances 0 .. window-1).

    ``sink_tokens`` first positions are also seen by every query (attention sinks,
    StreamingLLM); PowerAttention's sliding baseline is 9 window blocks + 1 sink block.
    """
    window = _span("window", window)
    sink = _span("sink_tokens", sink_tokens, low=0)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return (d >= 0) & ((d < window) | (kv_idx < sink))

    def rule(n):
        return np.arange(min(window, n))

    _with_size(rule, lambda n: min(window, n))

    params = {"window": window, "sink_tokens": sink}
    return _pattern("sliding_window", mask_mod, params, distance_rule=rule if sink == 0 else None)


def dilated(window: int = 8, rate: int = 2, sink_tokens: int = 0) -> MaskPattern:
    """Keys at distances 0, rate, 2·rate, ... below ``window`` (the span, not the count).

    With rate 2 a query never sees an odd distance, and no stack of layers ever does.
    """
    window = _span("window", window)
    rate = _span("rate", rate)
    sink = _span("sink_tokens", sink_tokens, low=0)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return (d >= 0) & (((d < window) & (d % rate == 0)) | (kv_idx < sink))

    def rule(n):
        return np.arange(0, min(window, n), rate)

    _with_size(rule, lambda n: -(-min(window, n) // rate))

    params = {"window": window, "rate": rate, "sink_tokens": sink}
    return _pattern("dilated", mask_mod, params, distance_rule=rule if sink == 0 else None)


def strided(stride: int = 4) -> MaskPattern:
    """Sparse Transformer's strided pattern: the previous ``stride`` keys and every
    ``stride``-th key before them (the union of its two heads A(1), A(2))."""
    stride = _span("stride", stride)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return (d >= 0) & ((d < stride) | (d % stride == 0))

    def rule(n):  # sorted: the window, then the multiples of stride past it
        return np.concatenate([np.arange(min(stride, n)), np.arange(stride, n, stride)])

    _with_size(rule, lambda n: min(stride, n) + -(-n // stride))

    return _pattern("strided", mask_mod, {"stride": stride}, distance_rule=rule)


def fixed(block: int = 4, c: int = 1) -> MaskPattern:
    """Sparse Transformer's fixed pattern: every earlier key of the query's own block
    of ``block`` positions, and the last ``c`` positions (summary cells) of every
    block (1 <= c <= block)."""
    block = _span("block", block)
    c = check_int("c", c, low=1, high=block)

    def mask_mod(b, h, q_idx, kv_idx):
        same_block = q_idx // block == kv_idx // block
        summary = kv_idx % block >= block - c
        return (q_idx >= kv_idx) & (same_block | summary)

    return _pattern("fixed", mask_mod, {"block": block, "c": c})


def longformer(window: int = 4, global_tokens: int = 1) -> MaskPattern:
    """Longformer in its causal form: a sliding window of ``window`` keys plus the first
    ``global_tokens`` positions, which every query sees (and which see every earlier key)."""
    window = _span("window", window)
    g = _span("global_tokens", global_tokens, low=0)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return (d >= 0) & ((d < window) | (kv_idx < g) | (q_idx < g))

    def rule(n):
        return np.arange(min(window, n))

    _with_size(rule, lambda n: min(window, n))

    params = {"window": window, "global_tokens": g}
    return _pattern("longformer", mask_mod, params, distance_rule=rule if g == 0 else None)


_MASK31 = 0x7FFFFFFF
_MIX = 0x045D9F3B  # below 2**27, so (31-bit value) * _MIX fits in int64


def _hash31(x: torch.Tensor) -> torch.Tensor:
    """An integer mixing hash on int64 tensors, values kept in [0, 2**31)."""
    x = x & _MASK31
    x = ((x ^ (x >> 16)) * _MIX) & _MASK31
    x = ((x ^ (x >> 16)) * _MIX) & _MASK31
    return x ^ (x >> 16)


def bigbird(
    window: int = 3, global_tokens: int = 1, random_keys: int = 2, seed: int = 0
) -> MaskPattern:
    """BigBird at token level, causal: a window of ``window`` keys, ``global_tokens``
    global positions and ``random_keys`` seeded random keys per query among its past."""
    window = _span("window", window)
    g = _span("global_tokens", global_tokens, low=0)
    r = check_int("random_keys", random_keys, low=0, high=MAX_RANDOM_KEYS)
    seed = check_int("seed", seed, low=0, high=_MASK31)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        allowed = (d < window) | (kv_idx < g) | (q_idx < g)
        q = q_idx.to(torch.int64)
        for draw in range(r):  # r is a Python int: a fixed number of terms
            key = _hash31(q * 1_000_003 + (draw * 7_919 + seed * 104_729)) % (q + 1)
            allowed = allowed | (kv_idx == key)
        return (d >= 0) & allowed

    params = {"window": window, "global_tokens": g, "random_keys": r, "seed": seed}
    return _pattern("bigbird", mask_mod, params)


def longnet(
    segment_lengths: Sequence[int] = (4, 8, 16), dilations: Sequence[int] = (1, 2, 4)
) -> MaskPattern:
    """LongNet's dilated attention: for each pair (w, r), split the sequence into
    segments of length w and let every r-th position of a segment attend every earlier
    r-th position of the same segment; a layer reads the union over the pairs."""
    pairs = _longnet_pairs(segment_lengths, dilations)

    def mask_mod(b, h, q_idx, kv_idx):
        allowed = q_idx < 0  # all False, of the right shape
        for w, r in pairs:
            kept = ((q_idx % w) % r == 0) & ((kv_idx % w) % r == 0)
            allowed = allowed | ((q_idx // w == kv_idx // w) & kept)
        return (q_idx >= kv_idx) & allowed

    params = {"segment_lengths": [w for w, _ in pairs], "dilations": [r for _, r in pairs]}
    return _pattern("longnet", mask_mod, params)


def _longnet_pairs(segment_lengths: Any, dilations: Any) -> list[tuple[int, int]]:
    for name, value in (("segment_lengths", segment_lengths), ("dilations", dilations)):
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence of positive integers, got {value!r}")
        if not 1 <= len(value) <= 16:
            raise ValueError(f"{name} must hold 1 to 16 positive integers, got {len(value)}")
    if len(segment_lengths) != len(dilations):
        raise ValueError(
            f"segment_lengths and dilations must have the same length, got "
            f"{len(segment_lengths)} and {len(dilations)}"
        )
    return [
        (
            _span(f"segment_lengths[{k}]", w),
            _span(f"dilations[{k}]", r),
        )
        for k, (w, r) in enumerate(zip(segment_lengths, dilations, strict=True))
    ]


def stride_slash(window: int = 6, stride: int = 8, sink_tokens: int = 1) -> MaskPattern:
    """PowerAttention's stride-slash baseline: a local window of ``window`` keys, a sink
    (the first ``sink_tokens`` positions: a vertical line) and slash lines, the
    diagonals at every multiple of ``stride``."""
    window = _span("window", window)
    stride = _span("stride", stride)
    sink = _span("sink_tokens", sink_tokens, low=0)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return (d >= 0) & ((d < window) | (d % stride == 0) | (kv_idx < sink))

    def rule(n):  # sorted: the window, then the multiples of stride past it
        first = -(-min(window, n) // stride) * stride
        return np.concatenate([np.arange(min(window, n)), np.arange(first, n, stride)])

    _with_size(rule, lambda n: min(window, n) + -(-n // stride))

    params = {"window": window, "stride": stride, "sink_tokens": sink}
    return _pattern("stride_slash", mask_mod, params, distance_rule=rule if sink == 0 else None)


def power_attention(
    block_size: int = 1, window_blocks: int = 1, sink_block: bool = False
) -> MaskPattern:
    """PowerAttention, Algorithm 1 (Chen et al. 2025): with blk = i//b - j//b, query i
    attends key j <= i iff (sink_block and j < b) or blk < window_blocks or blk is 0 or a
    power of two. ``window_blocks`` counts the query's own block. The defaults give the
    token-level pattern, distances {0} ∪ {2^k}; the paper's runs use (256, 5, True)."""
    b = _span("block_size", block_size)
    w = _span("window_blocks", window_blocks)
    check_bool("sink_block", sink_block)
    sink = b if sink_block else 0

    def mask_mod(b_, h, q_idx, kv_idx):
        blk = q_idx // b - kv_idx // b
        power = (blk & (blk - 1)) == 0
        return (q_idx >= kv_idx) & ((kv_idx < sink) | (blk < w) | power)

    def rule(n):
        powers = 1 << np.arange(max(1, int(n - 1).bit_length()))
        return np.concatenate([[0], np.arange(min(w, n)), powers])

    _with_size(rule, lambda n: 1 + min(w, n) + max(1, int(n - 1).bit_length()))

    params = {"block_size": b, "window_blocks": w, "sink_block": sink_block}
    token_level = b == 1 and not sink_block
    return _pattern(
        "power_attention", mask_mod, params, distance_rule=rule if token_level else None
    )


PATTERNS: dict[str, Callable[..., MaskPattern]] = {
    "full": full,
    "causal": causal,
    "sliding_window": sliding_window,
    "dilated": dilated,
    "strided": strided,
    "fixed": fixed,
    "longformer": longformer,
    "bigbird": bigbird,
    "longnet": longnet,
    "stride_slash": stride_slash,
    "power_attention": power_attention,
}


def make_mask(name: str, **params: Any) -> MaskPattern:
    """Build the pattern ``name`` (a key of ``PATTERNS``) with ``params``."""
    factory = PATTERNS[check_choice("name", name, PATTERNS)]
    allowed = tuple(inspect.signature(factory).parameters)
    for key in params:
        if key not in allowed:
            raise TypeError(
                f"{key!r} is not a parameter of the {name!r} pattern; allowed: {allowed}"
            )
    return factory(**params)
