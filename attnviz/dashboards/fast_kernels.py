"""Lesson 07's dashboard: how attention is computed fast, step by step and measured.

It binds controls to the kernels of ``attnviz.kernels`` and to ``attnviz.fast_kernels``, and
draws them with ``attnviz.plots`` in three tabs (``LazyTabs``: a tab's figures are built the
first time it is opened):

* **online softmax**: one seeded head of T tokens; the query row chosen is streamed over
  the keys in blocks (``online_softmax_steps``, FlashAttention-2, arXiv:2307.08691). The
  step control walks the keys a block at a time (its value is a key, the block holding it
  is read): the block read now, the running maximum m before and
  after it, the running sum ℓ before and after, the rescale factor e^(m − m′), and the
  output so far against the final one (the last step ends on it).
* **chunkwise linear attention**: the same head through decayed linear attention in chunks
  (``chunkwise_steps``, Lightning Attention-2, arXiv:2401.04658): which part of the causal
  map each chunk computes as a masked matrix product and which part reaches it through
  the carried state, and per token how large each part of the output is.
* **cost against length**: the button times the kernels on this machine at growing
  lengths inside a few seconds (``fast_kernels.cost_against_length``), in a worker thread,
  never on a slider move.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import panel as pn
import param
import torch

from attnviz import fast_kernels, plots
from attnviz.dashboards.base import CONTROL_WIDTH, Dashboard, _labelled
from attnviz.dashboards.lazy_tabs import LazyTabs
from attnviz.dashboards.threads import one_thread
from attnviz.kernels.chunkwise import chunkwise_steps, linear_attention_parallel
from attnviz.kernels.online_softmax import online_softmax_steps
from attnviz.validation import check_real

MAX_T = 64  # online_softmax_steps steps through at most 64 query rows
HEAD_DIM, VALUE_DIM = 8, 6
MEASURED_LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
MAX_BUDGET = 10.0  # seconds: the live measurement stays "a few seconds"
MAX_WAIT = 600.0
DRAIN_MS = 250
MEASURE = "cost against length"


def _head(seq_len: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded q, k (seq_len, HEAD_DIM) and v (seq_len, VALUE_DIM), float64."""
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(seq_len, HEAD_DIM, generator=generator, dtype=torch.float64)
    k = torch.randn(seq_len, HEAD_DIM, generator=generator, dtype=torch.float64)
    v = torch.randn(seq_len, VALUE_DIM, generator=generator, dtype=torch.float64)
    return q, k, v


class FastKernelsDashboard(Dashboard):
    """Online softmax block by block, chunkwise linear attention's chunks, measured cost."""

    stem = "fast_kernels"  # its lesson in attnviz.lessons: the title and the slug

    seq_len = param.Integer(default=32, bounds=(2, MAX_T), doc="tokens")
    seed = param.Integer(default=0, bounds=(0, 20))
    causal = param.Boolean(default=True)
    block_size = param.Integer(default=8, bounds=(1, MAX_T), doc="keys per block")
    query = param.Integer(default=31, bounds=(0, MAX_T - 1), doc="the query row shown")
    step = param.Integer(default=0, bounds=(0, MAX_T - 1), doc="a key: its block is read")
    chunk_size = param.Integer(default=8, bounds=(1, MAX_T), doc="tokens per chunk")
    decay = param.Number(default=0.9, bounds=(0.5, 1.0), step=0.01, doc="λ per token")
    chunk = param.Integer(default=8, bounds=(0, MAX_T - 1), doc="a token: its chunk is shown")
    time_budget = param.Number(
        default=3.0, bounds=(0.5, MAX_BUDGET), step=0.5, precedence=-1,
        doc="seconds the live measurement may take (its own slider, beside the button)",
    )  # fmt: skip

    widget_options = {
        "seq_len": {"name": "T, tokens"},
        "seed": {"name": "seed (q, k, v)"},
        "causal": {"name": "causal"},
        "block_size": {"name": "key block size (online softmax)"},
        "query": {"name": "query row i"},
        "step": {
            "type": pn.widgets.Player,
            "name": "key j: its block is read (step)",
            "interval": 800,
            "loop_policy": "once",
            "show_loop_controls": False,
            "visible_buttons": ["first", "previous", "pause", "play", "next", "last"],
            "width": CONTROL_WIDTH - 10,
        },
        "chunk_size": {"name": "chunk size (linear attention)"},
        "decay": {"name": "decay λ (linear attention)"},
        "chunk": {"name": "token t: its chunk is shown"},
    }

    def __init__(self, **params):
        """Any parameter may be preset; numbers out of range are clamped (the status says
        so); query, step (a key) and chunk (a token) to the chosen T."""
        super().__init__(**params)
        self._notes: list[str] = list(self.preset_notes)
        self._status = pn.pane.Alert("", alert_type="warning", visible=False, margin=(0, 10))
        self._steps = []
        self._chunks = []
        self._chunk_gap = float("nan")
        self._stepper = plots.OnlineSoftmaxView(width=380, height=250)
        self._readout = pn.pane.HTML("", margin=(0, 10), width=760)
        self._chunk_view: plots.ChunkView | None = None  # built with their tab
        self._parts: plots.Curves | None = None
        self._chunk_text = pn.pane.HTML("", margin=(0, 10), width=760)
        self._cost: plots.CostChart | None = None
        self._measure_text = pn.pane.HTML(
            "<p>Press <b>measure on this machine</b>: each kernel is timed at 256, 512, … "
            "tokens until its share of the budget is spent.</p>",
            margin=(0, 10), width=560,
        )  # fmt: skip
        self._button = pn.widgets.Button(
            label="measure on this machine", color="primary", width=CONTROL_WIDTH - 20
        )
        self._button.on_click(lambda *_: self.measure())
        self._budget = pn.widgets.FloatSlider.from_param(
            self.param.time_budget, name="measuring budget (seconds)", width=CONTROL_WIDTH - 20
        )
        self._worker: threading.Thread | None = None
        self._results: queue.Queue = queue.Queue()
        self._drainer = None
        self._rows: list[dict] = []
        self._fitting = False
        preset = {name: getattr(self, name) for name in ("query", "step", "chunk")}
        for name in preset:
            self._fit(name, self.seq_len - 1)
        self.param.watch(self._inputs_changed, ["seq_len", "seed", "causal", "block_size"])
        self.param.watch(self._chunks_changed, ["chunk_size", "decay"])
        self.param.watch(lambda *_: self._fitting or self._draw_step(), ["query", "step"])
        self.param.watch(lambda *_: self._fitting or self._draw_chunks(), ["chunk"])
        self._compute_steps()
        self._compute_chunks()
        self._tabs = LazyTabs(
            ("online softmax", self._softmax_tab),
            ("chunkwise linear attention", self._chunk_tab),
            (MEASURE, self._cost_tab),
        )
        for name, value in preset.items():
            if getattr(self, name) != value:
                self._notes.append(
                    f"{name} = {value} is out of range: using {getattr(self, name)}."
                )
        self._draw_step()

    # -- the tabs, each built the first time it is shown ----------------------------------
    def _softmax_tab(self):
        figures = self._stepper.figures
        pane = dict(sizing_mode="fixed")
        return pn.Column(
            pn.FlexBox(*(pn.pane.Bokeh(figures[n], **pane) for n in figures), max_width=1180),
            self._readout,
        )

    def _chunk_tab(self):
        self._chunk_view = plots.ChunkView(width=380, height=380)
        empty = (np.zeros(1), np.zeros(1))
        self._parts = plots.Curves(
            {"intra-chunk (masked matrix)": empty, "through the state": empty},
            title="how large each part of the output is",
            x_label="token t", y_label="‖part of o_t‖", width=460, height=380,
        )  # fmt: skip
        self._draw_chunks()
        pane = dict(sizing_mode="fixed")
        return pn.Column(
            pn.FlexBox(
                pn.pane.Bokeh(self._chunk_view.figure, **pane),
                pn.pane.Bokeh(self._parts.figure, **pane),
                max_width=1180,
            ),
            self._chunk_text,
        )

    def _cost_tab(self):
        self._cost = plots.CostChart(list(fast_kernels.DEFAULT_METHODS), width=600, height=380)
        self._draw_cost()
        return pn.Column(
            pn.Row(pn.Column(self._button, self._budget), self._measure_text),
            pn.pane.Bokeh(self._cost.figure, sizing_mode="fixed"),
        )

    # -- controls --------------------------------------------------------------------------
    def _fit(self, name: str, top: int) -> None:
        """Give ``name`` the range 0..top and move its value into it (no redraw)."""
        top = max(int(top), 0)
        value = min(max(int(getattr(self, name)), 0), top)
        self._set_in_range(name, value, top)

    def _inputs_changed(self, *events) -> None:
        if any(event.name == "seq_len" for event in events):
            for name in ("query", "step", "chunk"):
                self._fit(name, self.seq_len - 1)
        self._compute_steps()
        self._draw_step()
        if any(event.name in ("seq_len", "seed") for event in events):
            self._compute_chunks()
            self._draw_chunks()

    def _chunks_changed(self, *_) -> None:
        self._compute_chunks()
        self._draw_chunks()

    @property
    def figures(self) -> dict:
        """The figures built so far, by name: ``scores``, ``state`` and ``output`` (online
        softmax), then, once their tabs have been shown, ``chunks`` and ``parts``
        (chunkwise linear attention) and ``cost`` (measured cost against length)."""
        figures = dict(self._stepper.figures)
        if self._chunk_view is not None:
            figures["chunks"] = self._chunk_view.figure
            figures["parts"] = self._parts.figure
        if self._cost is not None:
            figures["cost"] = self._cost.figure
        return figures

    @property
    def status(self) -> str:
        """The status line's text ('' when there is nothing to say)."""
        return self._status.object if self._status.visible else ""

    @property
    def steps(self) -> list:
        """The online-softmax step records drawn now (``online_softmax_steps``)."""
        return list(self._steps)

    @property
    def chunks(self) -> list:
        """The chunk records drawn now (``chunkwise_steps``)."""
        return list(self._chunks)

    @property
    def measured(self) -> list[dict]:
        """The rows of the last measurement (``cost_against_length``); [] before one."""
        return list(self._rows)

    def _note(self, notes: list[str]) -> None:
        text = "  \n".join(notes)
        if self._status.object != text:
            self._status.object = text
        if self._status.visible != bool(notes):
            self._status.visible = bool(notes)

    # -- computations (the kernels') --------------------------------------------------------
    def _compute_steps(self) -> None:
        q, k, v = _head(int(self.seq_len), int(self.seed))
        try:
            with one_thread():
                self._steps = online_softmax_steps(
                    q, k, v, causal=bool(self.causal), block_size=int(self.block_size)
                )
        except Exception as error:  # a dashboard never dies on a control value
            self._steps = []
            self._notes.append(f"Could not compute online softmax: {error}")
        self._controls["step"].step = int(self.block_size)  # the player moves a block

    def _compute_chunks(self) -> None:
        q, k, v = _head(int(self.seq_len), int(self.seed))
        decay, size = float(self.decay), int(self.chunk_size)
        try:
            with one_thread():
                self._chunks = chunkwise_steps(q, k, v, decay=decay, chunk_size=size)
                parallel = linear_attention_parallel(q, k, v, decay=decay).output
            together = torch.cat([c.intra + c.inter for c in self._chunks])
            self._chunk_gap = float((together - parallel).abs().max())
        except Exception as error:  # a dashboard never dies on a control value
            self._chunks = []
            self._notes.append(f"Could not compute chunkwise linear attention: {error}")
        self._controls["chunk"].step = int(self.chunk_size)  # the slider moves a chunk

    # -- drawing ------------------------------------------------------------------------------
    def _draw_step(self) -> None:
        notes = [n for n in self._notes if not n.startswith("Could not draw")]
        try:
            self._draw_step_views()
        except Exception as error:  # a dashboard never dies on a control value
            notes.append(f"Could not draw: {error}")
        self._notes = notes
        self._note(notes)

    def _draw_step_views(self) -> None:
        if not self._steps:
            return
        i = int(self.query)
        s = min(int(self.step) // int(self.block_size), len(self._steps) - 1)
        step = self._steps[s]
        row = torch.cat([record.scores[i] for record in self._steps]).numpy()
        row = np.where(np.isfinite(row), row, np.nan)  # −inf: a key the causal mask hides
        final = self._steps[-1].output[i].numpy()
        m_before = float(step.m_before[i])
        with self._hold():
            self._stepper.update(
                row,
                step.keys,
                m_before=m_before,
                m_after=float(step.m_after[i]),
                l_before=float(step.l_before[i]),
                l_after=float(step.l_after[i]),
                rescale=float(step.rescale[i]),
                output=step.output[i].numpy(),
                final=final,
            )
        gap = float(np.abs(step.output[i].numpy() - final).max())
        start, stop = step.keys
        before = "−∞ (no key read yet)" if not np.isfinite(m_before) else f"{m_before:.4f}"
        self._readout.object = (
            f"<p><b>Query row i = {i}, key block {s + 1} of {len(self._steps)}</b> (keys "
            f"{start}–{stop - 1}). Running max m: {before} → {float(step.m_after[i]):.4f}; "
            f"the sums so far are multiplied by e^(m − m′) = {float(step.rescale[i]):.4f}, "
            f"then the block's terms are added: ℓ = {float(step.l_before[i]):.4f} → "
            f"{float(step.l_after[i]):.4f}. The output so far, O/ℓ, differs from the final "
            f"output by at most {gap:.3g}"
            + (" — the last block: it is the final output." if s == len(self._steps) - 1 else ".")
            + "</p>"
        )

    def _draw_chunks(self) -> None:
        if self._chunk_view is None or not self._chunks:
            return
        c = min(int(self.chunk) // int(self.chunk_size), len(self._chunks) - 1)
        try:
            with self._hold():
                pairs = [tuple(record.tokens) for record in self._chunks]
                self._chunk_view.update(int(self.seq_len), pairs, c)
                tokens = np.arange(int(self.seq_len), dtype=np.float64)
                intra = torch.cat([r.intra for r in self._chunks]).norm(dim=-1).numpy()
                inter = torch.cat([r.inter for r in self._chunks]).norm(dim=-1).numpy()
                self._parts.update("intra-chunk (masked matrix)", tokens, intra)
                self._parts.update("through the state", tokens, inter)
        except Exception as error:  # a dashboard never dies on a control value
            self._note([*self._notes, f"Could not draw the chunks: {error}"])
            return
        record = self._chunks[c]
        start, stop = record.tokens
        state = tuple(record.state.shape)
        self._chunk_text.object = (
            f"<p><b>Chunk {c} of {len(self._chunks)}</b>: tokens {start}–{stop - 1}. Inside "
            f"the chunk, ((Q Kᵀ) ⊙ M) V over {stop - start} tokens; everything before token "
            f"{start} arrives through the carried state, a {state[0]} × {state[1]} matrix "
            f"whatever T is. Intra + inter against the parallel form ((Q Kᵀ) ⊙ M) V over "
            f"all {self.seq_len} tokens: largest difference {self._chunk_gap:.1e}.</p>"
        )

    def _draw_cost(self) -> None:
        if self._cost is None:
            return
        measured, refused = {}, {}
        for name in fast_kernels.DEFAULT_METHODS:
            rows = [row for row in self._rows if row["method"] == name]
            done = [row for row in rows if row["seconds"] is not None]
            if done:
                measured[name] = (
                    np.array([row["seq_len"] for row in done], dtype=np.float64),
                    np.array([max(row["seconds"], 1e-9) for row in done]),
                )
            gaps = [row["seq_len"] for row in rows if row["refused"] is not None]
            if gaps:
                refused[name] = gaps
        self._cost.update(measured, refused)

    # -- the live measurement -----------------------------------------------------------------
    @property
    def measuring(self) -> bool:
        """True while a measurement is running."""
        return self._worker is not None and self._worker.is_alive()

    def measure(self) -> None:
        """Time the kernels on this machine (``fast_kernels.cost_against_length`` within
        ``time_budget`` seconds) in a worker thread; the chart shows the rows when done."""
        if self.measuring:
            return
        self._tabs.show(MEASURE)  # where the result is drawn: built now if it was not
        budget = float(self.time_budget)
        self._button.disabled = True
        self._measure_text.object = f"<p>measuring, about {budget:g} s …</p>"
        results = self._results = queue.Queue()

        def work() -> None:
            try:
                with one_thread():  # one core measures; the other stays free for the server
                    rows = fast_kernels.cost_against_length(
                        fast_kernels.DEFAULT_METHODS, MEASURED_LENGTHS, time_budget=budget
                    )
                results.put(("done", rows))
            except Exception as error:  # reported on the page, never raised into the server
                results.put(("error", error))

        self._worker = threading.Thread(target=work, name="attnviz-measure", daemon=True)
        self._worker.start()
        self._drainer = pn.state.add_periodic_callback(self.drain, period=DRAIN_MS)

    def drain(self) -> None:
        """Show a finished measurement (server thread); nothing while it runs."""
        try:
            kind, payload = self._results.get_nowait()
        except queue.Empty:
            return
        if self._drainer is not None:
            self._drainer.stop()
            self._drainer = None
        self._button.disabled = False
        if kind == "error":
            self._measure_text.object = f"<p>Could not measure: {payload}</p>"
            return
        self._rows = payload
        done = [row for row in payload if row["seconds"] is not None]
        longest = max((row["seq_len"] for row in done), default=0)
        self._measure_text.object = (
            f"<p>measured {len(done)} (kernel, length) pairs on this machine, up to "
            f"{longest:,} tokens, one causal head (d = {fast_kernels.HEAD_DIM}, one thread); "
            "a method stops where its next length would pass its share of the budget, a "
            "cross marks a length the memory budget refused.</p>"
        )
        with self._hold():
            self._draw_cost()

    def wait(self, timeout: float = 60.0) -> None:
        """Block until a measurement has finished, or ``timeout`` seconds (in [0,
        ``MAX_WAIT``]) have passed, then show it."""
        timeout = check_real("timeout", timeout, low=0.0, high=MAX_WAIT)
        deadline = time.monotonic() + timeout
        while self.measuring and time.monotonic() < deadline:
            self._worker.join(0.1)
        self.drain()

    def close(self) -> None:
        """Stop showing a measurement (a closed tab): its drain stops; the worker thread,
        bounded by its budget, ends on its own."""
        if self._drainer is not None:
            self._drainer.stop()
            self._drainer = None

    # -- the Viewer protocol -------------------------------------------------------------------
    def __panel__(self):
        c = self._controls
        controls = pn.Column(*map(_labelled, c.values()), width=CONTROL_WIDTH)
        return pn.Column(self._header(), self._status, pn.Row(controls, self._tabs))


def app(**defaults) -> FastKernelsDashboard:
    """Lesson 07's dashboard, any parameter preset, e.g. ``app(block_size=4, causal=False)``."""
    return FastKernelsDashboard(**defaults)
