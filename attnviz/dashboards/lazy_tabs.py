"""Tabs whose contents are built the first time a user opens them.

A served session pays for every Bokeh model it builds and sends, about a millisecond each
on a 2-core machine, so a session's first view should hold only what is on screen (issue
#13: a session costs at most 150 ms of server CPU). ``LazyTabs`` builds the active tab at
once and every other tab the first time it is opened; from then on the dashboard keeps the
built views up to date like any other. A student who never opens a tab never pays for it.

Each tab is a title and a builder: a function of no arguments that makes the tab's views,
draws them from the dashboard's current state, and returns the layout to show.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn


class LazyTabs(pn.viewable.Viewer):
    """``pn.Tabs`` that call each tab's builder once, when the tab is first shown."""

    def __init__(self, *tabs: tuple[str, Callable[[], object]], active: int = 0, **tabs_kwargs):
        titles = [title for title, _ in tabs]
        if not tabs or len(set(titles)) != len(titles):
            raise ValueError(f"tabs must be (title, builder) pairs, titles distinct; got {titles}")
        for title, build in tabs:
            if not callable(build):
                raise TypeError(f"the builder of tab {title!r} must be callable, got {build!r}")
        if not 0 <= active < len(tabs):
            raise ValueError(f"active must be a tab index in [0, {len(tabs) - 1}], got {active}")
        super().__init__()
        self.titles = titles
        self._builders = dict(tabs)
        self._holders = {title: pn.Column(margin=0) for title in titles}
        self.built: dict[str, object] = {}  # the tabs built so far, by title
        self.tabs = pn.Tabs(*self._holders.items(), active=active, **tabs_kwargs)
        self.tabs.param.watch(lambda event: self._build(self.titles[event.new]), "active")
        self._build(titles[active])

    def _build(self, title: str) -> None:
        if title not in self.built:
            self.built[title] = self._builders[title]()
            self._holders[title].objects = [self.built[title]]

    def show(self, title: str) -> None:
        """Open the tab called ``title``, building it if it has not been shown yet."""
        if title not in self._builders:
            raise ValueError(f"no tab called {title!r}; the tabs are {self.titles}")
        self.tabs.active = self.titles.index(title)

    def __panel__(self):
        return self.tabs
