"""Pure: status-line counts and window badges, as text for tmux formats."""

from __future__ import annotations

from otop.core.model import Group, State
from otop.outputs.render import DEFAULT_COLOURS, StatusStyle, status_text, window_badges
from tests.ui_world import AGENTS, NOW


def test_counts_in_the_default_style() -> None:
    """Counts per group in their colours, most urgent first, unseen agents after the waiting
    ones; empty counts vanish."""
    assert status_text(AGENTS) == (
        "#[fg=colour208]⏳1#[fg=default] #[fg=colour39]●1#[fg=default] #[fg=colour2]⚙3#[fg=default]"
        " ·2 #[fg=colour244]✗1#[fg=default]"
    )
    seen = [a._replace(unseen_since=None) for a in AGENTS]
    assert "●" not in status_text(seen)
    assert status_text(()) == ""


def test_custom_template_and_hostile_icon() -> None:
    """A user's template and icons are honoured; a `#` in an icon is made literal."""
    style = StatusStyle(
        {g: "#(x)" if g == Group.WAITING else "" for g in Group},
        {g: "default" for g in Group},
        "[{waiting}|{idle}]",
    )
    assert status_text(AGENTS, style) == "[##(x)1|2]"
    marked = StatusStyle(style.icons, style.colours, "{unseen}", "#(y)", "default")
    assert status_text(AGENTS, marked) == "##(y)1"


def test_badges_most_urgent_wait_time_and_guess_mark() -> None:
    """Each window's badge is its most urgent agent, waiting time included; `?` marks a guess."""
    badges = window_badges(AGENTS, NOW)
    assert badges["@2"] == " #[fg=colour208]⏳1m#[fg=default]"
    assert badges["@3"] == " #[fg=colour2]⚙#[fg=default]"
    assert badges["@6"] == " ·?"
    assert badges["@7"] == " #[fg=colour244]✗#[fg=default]"
    # Two agents in one window: the waiting one wins; the unseen idle one adds its mark.
    both = (AGENTS[0], AGENTS[1]._replace(pane=AGENTS[0].pane))
    assert window_badges(both, NOW) == {
        "@1": " #[fg=colour208]⏳1m#[fg=default]#[fg=colour39]●#[fg=default]"
    }
    assert window_badges((AGENTS[0]._replace(unseen_since=None),), NOW) == {"@1": " ·"}
    assert DEFAULT_COLOURS[Group.IDLE] == "default"
    assert AGENTS[1].state == State.PERMISSION
