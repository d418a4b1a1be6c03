"""Pure: opencode's prompt input and question dialog read from screens captured off the real
opencode 1.18.33 TUI (tests/screens/, 160x45; 1.18.34 and 1.14.48 draw the same layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from otop.sources.opencode import prompt

SCREENS = Path(__file__).parent / "screens"


def screen(name: str) -> str:
    return (SCREENS / f"{name}.txt").read_text()


@pytest.mark.parametrize(
    ("name", "draft"),
    [
        ("home", ""),  # the placeholder `Ask anything…` is no draft
        ("home-draft", "draft text here"),
        ("idle", ""),
        ("idle-draft", "a draft"),
        ("generating", ""),  # the input stays while a turn runs
        ("question", None),  # a dialog replaces the input
        ("question-custom-open", None),
        ("questions-two", None),
        ("permission", None),
    ],
)
def test_the_prompt_input_and_what_it_holds(name: str, draft: str | None) -> None:
    """The input box is found with its draft (the sidebar beside it is not read as text), and
    no box is reported while a dialog is drawn."""
    assert prompt.input_box(screen(name)) == draft


def test_a_question_dialog_with_its_options() -> None:
    """Options numbered as the digits that pick them, the custom answer last and closed."""
    q = prompt.question(screen("question"))
    assert q is not None
    assert q.options == ("red", "blue", prompt.CUSTOM) and q.custom == 3
    assert not q.several and q.typed is None


def test_the_custom_answer_line_open_and_typed() -> None:
    """After its digit the custom line shows its placeholder (empty), then what was typed."""
    opened, typed = (
        prompt.question(screen("question-custom-open")),
        prompt.question(screen("question-custom-typed")),
    )
    assert opened is not None and opened.typed == ""
    assert typed is not None and typed.typed == "green and gold"
    assert opened.key() == typed.key()


@pytest.mark.parametrize("name", ["home", "idle", "generating", "permission"])
def test_no_question_where_none_is_asked(name: str) -> None:
    """Prompts, a running turn and a permission dialog are no question dialog."""
    assert prompt.question(screen(name)) is None


def test_several_questions_are_told_apart() -> None:
    """A dialog with tabs (several questions) is marked, so otop leaves it to the pane."""
    q = prompt.question(screen("questions-two"))
    assert q is not None and q.several


def test_a_model_writing_a_fake_dialog_above_the_input_is_no_dialog() -> None:
    """Text in the history that looks like options and a footer, with the input box drawn
    below it, is not a question dialog."""
    fake = "  ┃  1. red\n  ┃  2. blue\n  ┃  ↑↓ select  enter submit  esc dismiss\n"
    assert prompt.question(fake + screen("idle")) is None
