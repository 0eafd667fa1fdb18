"""The course's lessons, listed once: each lesson's number, title, question and stem.

A lesson is one unit with one name, its *stem*, in every layer (CONTRIBUTING.md says how
to add one):

- ``lessons/<number>_<...>.ipynb``: the notebook (``notebook`` below);
- ``attnviz/dashboards/<stem>.py``: its dashboard class (``dashboard``), served at /<stem>;
- ``attnviz/exercises/<stem>.py``: its "predict, then reveal" exercises;
- ``attnviz/plots/<stem>.py``: its own figures, where it has some;
- ``tests/test_<stem>_dashboard.py``, ``_exercises.py``, ``_plots.py``: their tests;
- ``tests/browser/test_served_<stem>.py``: its served dashboard in a real browser.

Its computation lives in library modules named for what they compute (``computation``
below: ``attnviz.lookup``, ``attnviz.receptive`` ...), which other lessons and users
import too. The served index, ``attnviz bench``, the exercise registry and the JupyterLab
browser test read this list; tests/test_lessons.py checks the README's and lesson 00's
tables and every file above against it. This module imports nothing heavy.

The appendix (``appendix_own_model.ipynb``, number ``"appendix"``) is an entry like the
others, last, with exercises and no dashboard: an API tutorial kept out of the lessons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from attnviz.validation import check_text  # imports torch only if given a tensor

#: where Google Colab opens a lesson straight from the repository on GitHub (the README's
#: "Colab" column); the lesson then needs attnviz installed in Colab (README says how)
COLAB_LESSONS = "https://colab.research.google.com/github/attnviz/attnviz/blob/main/lessons/"


@dataclass(frozen=True)
class Lesson:
    """One lesson of the course and the names it has in every layer."""

    number: str  # "06" (or "01b"): orders the course, prefixes the notebook and exercise ids
    stem: str  # "dsf": the dashboard and exercises module, the served slug, the test names
    title: str  # "one framework (DSF)", as the tables and the index show it
    question: str  # the question it answers, one line
    notebook: str  # "06_one_framework_dsf.ipynb", in lessons/
    dashboard: str | None = None  # its class in attnviz.dashboards.<stem>, or None
    summary: str = ""  # what its dashboard shows: the served index's card
    computation: tuple[str, ...] = ()  # the attnviz modules that compute what it shows
    status: Literal["ready", "in progress"] = "ready"

    def __post_init__(self) -> None:
        for name in ("number", "stem", "title", "question", "notebook"):
            check_text(name, getattr(self, name))
        if self.dashboard is not None:
            check_text("dashboard", self.dashboard)
        check_text("summary", self.summary, empty=True)
        if not isinstance(self.computation, tuple) or not all(
            isinstance(module, str) and module for module in self.computation
        ):
            raise TypeError(
                f"computation must be a tuple of module names (str), got {self.computation!r}"
            )
        if self.status not in ("ready", "in progress"):
            raise ValueError(f"status must be 'ready' or 'in progress', got {self.status!r}")

    @property
    def index_title(self) -> str:
        """The heading of its card on the served index: ``06 · One framework (DSF)``."""
        return f"{self.number} · {self.title[:1].upper()}{self.title[1:]}"

    @property
    def slug(self) -> str | None:
        """Where ``attnviz serve`` serves its dashboard: its stem (None: no dashboard)."""
        return self.stem if self.dashboard else None


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "00", "start_here", "start here",
        "how the notebooks, dashboards and exercises work",
        "00_start_here.ipynb",
    ),
    Lesson(
        "01", "soft_lookup", "attention is a soft lookup",
        "what do queries, keys, values and the temperature do? Nadaraya–Watson kernel "
        "regression → dot-product attention; why divide by √d_k",
        "01_attention_is_lookup.ipynb",
        dashboard="SoftLookupDashboard",
        summary="Drag a query, change the kernel, bandwidth, temperature and d_k; watch the "
        "weights and the kernel-regression fit.",
        computation=("lookup", "kernels.softmax"),
    ),
    Lesson(
        "01b", "transformer_layer", "from one head to a transformer layer",
        "how does one head become a layer of a real model? Projections W_Q, W_K, W_V, W_O; "
        "heads split and merged; the causal mask; learned positions vs RoPE; the residual "
        "stream",
        "01b_one_head_to_transformer_layer.ipynb",
        dashboard="TransformerLayerDashboard",
        summary="One layer of the course's trained model, opened up: pick a head and a layer, "
        "switch the causal mask, move the whole sentence to later positions and compare "
        "learned positions with RoPE; watch the weights, the scores by position and each "
        "head's write into the residual stream.",
        computation=("transformer_layer", "models", "mixers", "kernels.attention"),
    ),
    Lesson(
        "02", "attention_maps", "reading attention maps",
        "what does a trained model attend to? Model view, head view, entropy, sinks, "
        "rollout, and what maps do not tell you",
        "02_reading_attention_maps.ipynb",
        dashboard="AttentionMapsDashboard",
        summary="Every head of a trained model at once, then one head token by token: what "
        "does it look at? Entropy and first-token sinks per head; inputs up to 65,536 "
        "tokens (RoPE).",
        computation=("maps", "models"),
    ),
    Lesson(
        "03", "head_jobs", "heads with jobs",
        "previous-token, induction, retrieval and sink heads: the scores that name them, "
        "the phase change as an induction head forms, and what breaks when you ablate one",
        "03_heads_with_jobs.ipynb",
        dashboard="HeadJobsDashboard",
        summary="Previous-token, induction, duplicate and sink heads, found by their scores; "
        "knock a head out and see the loss; watch the induction head form while the model "
        "trains.",
        computation=("maps", "training", "tasks"),
    ),
    Lesson(
        "04", "receptive_fields", "receptive fields",
        "how far can a token see after L sparse attention layers? The mask zoo (sliding, "
        "dilated, Sparse Transformer, Longformer, BigBird, LongNet, PowerAttention) as "
        "FlexAttention masks; exact reach, holes, α̂; the gradient field of a trained "
        "masked model",
        "04_receptive_fields.ipynb",
        dashboard="ReceptiveFieldsDashboard",
        summary="Pick a sparse mask — sliding window, dilated, strided, Longformer, BigBird, "
        "LongNet, PowerAttention — and see how far each token sees after L layers: the reach "
        "map, coverage curves, the holes, and how many layers each needs to see everything.",
        computation=("receptive", "gradient_field", "kernels.masks"),
    ),
    Lesson(
        "05", "associative_memory", "attention as Pavlovian conditioning",
        "what does one head remember, and how much? Linear attention as an associative "
        "memory (query = test stimulus, key = CS, value = US); crosstalk and capacity "
        "by criterion (on average, for the worst item, guaranteed); Hebbian vs delta rule; "
        "Rescorla–Wagner blocking, extinction, inhibition; forgetting",
        "05_pavlovian_conditioning.ipynb",
        dashboard="AssociativeMemoryDashboard",
        summary="Linear attention as an associative memory: its capacity against d_k, the "
        "memory matrix written association by association, and conditioning experiments "
        "(blocking, extinction, ...) under the delta rule and the Hebbian rule.",
        computation=("memory", "conditioning", "kernels.linear"),
    ),
    Lesson(
        "06", "dsf", "one framework (DSF)",
        "softmax attention, linear attention, S6 / SSD (Mamba) and gated RNNs (qLSTM, "
        "RG-LRU) as one kind of dynamical system: the implicit attention matrix Φ of each, "
        "recurrent = parallel, when linear attention is S6, how each forgets, state size "
        "against recall on MQAR",
        "06_one_framework_dsf.ipynb",
        dashboard="DSFDashboard",
        summary="Softmax attention, linear attention, S6, SSD, qLSTM and RG-LRU on one input, "
        "as one kind of system h_i = Λ_i h_{i-1} + B_i u_i, y_i = C_i h_i: their implicit "
        "attention matrices Φ side by side, their state sizes and decay profiles; step "
        "through the recurrence and watch y = Φu build up; toggle normalisation, feature "
        "map and gating.",
        computation=("dsf", "dsf_trained", "state_size", "mixers", "kernels.ssm", "kernels.rnn"),
    ),
    Lesson(
        "07", "fast_kernels", "fast attention kernels",
        "how is attention computed fast? Online softmax, attention as a scan, chunkwise "
        "linear attention, sparse masks through FlexAttention; measured",
        "07_fast_attention_kernels.ipynb",
        dashboard="FastKernelsDashboard",
        summary="Step through online softmax key block by key block (the running max m, the "
        "running sum ℓ, the rescale e^(m − m′), the output converging), see which part of "
        "chunkwise linear attention is a masked matrix and which comes through the state, "
        "and measure each kernel's cost against length on this machine.",
        computation=(
            "fast_kernels", "kernels.online_softmax", "kernels.scan", "kernels.chunkwise",
            "kernels.flex", "kernels.masks",
        ),
    ),
    Lesson(
        "08", "attention_sinks", "sinks and long context on real text",
        "where does a model trained on real text put the attention it does not need? "
        "Attention sinks and the first token's key as a bias; softmax vs sigmoid vs gated "
        "twins; StreamingLLM's window + sink cache past the training length; retrieval vs "
        "streaming heads (DuoAttention) and the memory a mixed cache saves",
        "08_attention_sinks.ipynb",
        dashboard="AttentionSinksDashboard",
        summary="A character-level model trained on Shakespeare, read on a play it never saw: "
        "pick a head and see its map and its sink; toggle the sink token in the cache and "
        "watch the loss by position past the training length under a sliding window, window "
        "+ sinks and full attention.",
        computation=("sinks", "streaming", "retrieval_heads", "kv_cache", "text_models",
                     "shakespeare"),
    ),
    Lesson(
        "appendix", "own_model", "use attnviz on your own model",
        "how do I read the attention of my own model? Capture from plain PyTorch modules and "
        "Hugging Face models (GPT-2, BERT); long inputs, held or streamed; a view saved as a "
        "web page",
        "appendix_own_model.ipynb",
        computation=("maps", "maps.streamed", "export"),
    ),
)  # fmt: skip


def lesson(key: str) -> Lesson:
    """The lesson with this stem or number (``"dsf"`` or ``"06"``)."""
    if not isinstance(key, str):
        raise TypeError(f"key must be a lesson's stem or number (a str), got {key!r}")
    for entry in LESSONS:
        if key in (entry.stem, entry.number):
            return entry
    known = ", ".join(f"{entry.number} {entry.stem}" for entry in LESSONS)
    raise ValueError(f"no lesson {key!r}; the lessons are: {known}")


def markdown_table(*, links: bool = False, dashboards: bool = False, colab: bool = False) -> str:
    """The lessons as a markdown table: the README's (links, dashboards, colab) and lesson 00's.

    ``colab`` adds a column that opens each lesson's notebook in Google Colab.
    """
    for name, value in (("links", links), ("dashboards", dashboards), ("colab", colab)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    header = ["#", "lesson", "the question it answers"]
    header += (["dashboard"] if dashboards else []) + (["Colab"] if colab else [])
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in LESSONS:
        title = f"[{entry.title}](lessons/{entry.notebook})" if links else entry.title
        if entry.status != "ready":
            title += f" *({entry.status})*"
        cells = [entry.number, title, entry.question]
        if dashboards:
            cells.append(f"`{entry.slug}`" if entry.slug else "—")
        if colab:
            cells.append(f"[open]({COLAB_LESSONS}{entry.notebook})")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


__all__ = ["COLAB_LESSONS", "LESSONS", "Lesson", "lesson", "markdown_table"]


if __name__ == "__main__":  # python -m attnviz.lessons: the tables to paste (CONTRIBUTING.md)
    print("README.md:\n")
    print(markdown_table(links=True, dashboards=True, colab=True))
    print("\nlessons/00_start_here.ipynb:\n")
    print(markdown_table())
