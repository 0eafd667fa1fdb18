"""LazyTabs: a tab's builder runs once, the first time the tab is shown, and only the tab
shown is in the session's document (issue #13: a session sends what is on screen)."""

import panel as pn
import pytest
from attached import attached
from panel.io.state import set_curdoc

from attnviz.dashboards.lazy_tabs import LazyTabs


def _tabs(calls):
    def builder(title):
        def build():
            calls.append(title)
            return pn.pane.Markdown(f"the {title} tab")

        return build

    return LazyTabs(*((title, builder(title)) for title in ("one", "two", "three")))


def test_each_tab_is_built_once_when_first_shown_and_only_the_shown_one_is_sent():
    calls = []
    tabs, document = attached(lambda: _tabs(calls))
    assert calls == ["one"] and tabs.active == "one"
    sent = {m.text for m in document.models if hasattr(m, "text") and isinstance(m.text, str)}
    assert any("the one tab" in text for text in sent)
    assert not any("the two tab" in text for text in sent)
    with set_curdoc(document):
        tabs.show("two")
        tabs.show("one")
        tabs.show("two")
    assert calls == ["one", "two"]  # built once each; "three" never opened, never built
    assert set(tabs.built) == {"one", "two"}
    texts = [m.text for m in document.models if isinstance(getattr(m, "text", None), str)]
    assert any("the two tab" in text for text in texts)
    assert not any("the one tab" in text for text in texts)  # swapped out of the document


def test_the_bar_opens_a_tab_as_a_click_would():
    calls = []
    tabs = _tabs(calls)
    tabs.bar.value = "three"
    assert calls == ["one", "three"] and tabs.active == "three"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((), {}, ValueError, "tabs must be"),
        ((("a", lambda: 1), ("a", lambda: 2)), {}, ValueError, "titles distinct"),
        ((("a", "not a function"),), {}, TypeError, "builder of tab 'a' must be callable"),
        ((("a", lambda: 1),), {"active": 1}, ValueError, r"active must be a tab index in \[0, 0\]"),
    ],
)
def test_bad_tabs_are_refused_by_name(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        LazyTabs(*args, **kwargs)


def test_showing_an_unknown_tab_names_the_tabs():
    with pytest.raises(ValueError, match=r"no tab called 'four'; the tabs are \['one', 'two'"):
        _tabs([]).show("four")
