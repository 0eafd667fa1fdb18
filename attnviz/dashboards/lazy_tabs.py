"""Tabs whose contents are built the first time a user opens them.

A served session pays for every Bokeh model it builds and sends, about a millisecond each
on a 2-core machine, so a session's first view should hold only what is on screen (issue
#13: a session costs at most 150 ms of server CPU). ``LazyTabs`` builds the active tab at
once and every other tab the first time it is opened; from then on the dashboard keeps the
built views up to date like any other. A student who never opens a tab never pays for it.

Each tab is a title and a builder: a function of no arguments that makes the tab's views,
draws them from the dashboard's current state, and returns the layout to show.

The tab bar is a row of buttons over one column that holds the open tab's view. Only that
view is in the browser's document: opening another tab swaps it in (the views built before
are kept, so reopening one only sends it again). Two arrangements with ``pn.Tabs`` fail in
Panel 1.9: filling a tab's content after the page is drawn lays its figures out at zero
size, and with ``dynamic=True`` a Markdown or HTML pane of a hidden tab that changes
re-links Panel's stylesheets to its CDN (a request that fails offline).
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from attnviz.validation import check_int, check_text

# outlined primary buttons (newer Panel names button_type and button_style color and variant)
_OUTLINED = (
    dict(color="primary", variant="outline")
    if "variant" in pn.widgets.RadioButtonGroup.param
    else dict(button_type="primary", button_style="outline")
)


class LazyTabs(pn.viewable.Viewer):
    """A tab bar whose tabs' builders are called once each, when the tab is first shown."""

    def __init__(self, *tabs: tuple[str, Callable[[], object]], active: int = 0):
        """``tabs``: at least one (title, builder) pair, titles distinct strings, builders
        callables of no arguments; ``active``: the index of the tab shown first."""
        for tab in tabs:
            if not isinstance(tab, (tuple, list)) or len(tab) != 2:
                raise TypeError(f"tabs must be (title, builder) pairs, got {tab!r}")
            title, build = tab
            if not isinstance(title, str):
                raise TypeError(f"tabs' titles must be strings, got {title!r}")
            if not callable(build):
                raise TypeError(f"the builder of tab {title!r} must be callable, got {build!r}")
        titles = [title for title, _ in tabs]
        if not tabs or len(set(titles)) != len(titles):
            raise ValueError(f"tabs must be (title, builder) pairs, titles distinct; got {titles}")
        active = check_int("active", active)
        if not 0 <= active < len(tabs):
            raise ValueError(f"active must be a tab index in [0, {len(tabs) - 1}], got {active!r}")
        super().__init__()
        self.titles = titles
        self._builders = dict(tabs)
        self.built: dict[str, object] = {}  # the tabs built so far, by title
        self.bar = pn.widgets.RadioButtonGroup(
            options=titles, value=titles[active], margin=(5, 10), **_OUTLINED,
        )  # fmt: skip
        self._body = pn.Column(margin=0)
        self.bar.param.watch(lambda event: self._open(event.new), "value")
        self._open(titles[active])

    @property
    def active(self) -> str:
        """The title of the tab shown."""
        return self.bar.value

    def _open(self, title: str) -> None:
        if title not in self.built:
            self.built[title] = self._builders[title]()
        self._body.objects = [self.built[title]]

    def show(self, title: str) -> None:
        """Open the tab called ``title``, building it if it has not been shown yet."""
        check_text("title", title, empty=True)
        if title not in self._builders:
            raise ValueError(f"no tab called {title!r}; the tabs are {self.titles}")
        self.bar.value = title

    def __panel__(self):
        return pn.Column(self.bar, self._body, margin=0)
