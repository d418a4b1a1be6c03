"""Reply to an agent from otop: the next prompt into its input, or a question's answer, typed
into its pane only after its screen shows where the text will go."""

from __future__ import annotations

import time
from collections.abc import Callable

from otop.actions.answer import AnswerError, same_process
from otop.core.model import Agent, Group, State
from otop.core.text import clean
from otop.decide.screen import squeeze
from otop.sources.opencode import prompt
from otop.sources.tmux import Tmux, TmuxError
from otop.sources.tmux_args import literal

MAX_TEXT = 4000


class ReplyError(Exception):
    """Why nothing (or not all) was sent, in plain words."""


def send(tmux: Tmux, agent: Agent, text: str) -> str:
    """Send `text` to the agent: a question's answer (a digit picks an option) when its pane
    shows a question dialog, else the next prompt when its input is there and empty."""
    check(text)
    if agent.server:
        raise ReplyError(f"this agent runs on server {agent.server}: reply in its own client")
    if agent.pane is None:
        raise ReplyError("this agent runs in no tmux pane")
    pane = agent.pane.id
    try:
        same_process(tmux, agent)
        screen = _screen(tmux, pane)
        asked = prompt.question(screen)
        if asked is not None:
            return _answer(tmux, pane, asked, text)
        if agent.state == State.PERMISSION:
            raise ReplyError("a permission dialog is open: 1, 2 or 3 answer it")
        return _prompt(tmux, agent, pane, screen, text)
    except AnswerError as exc:
        raise ReplyError(str(exc)) from None
    except TmuxError as exc:
        raise ReplyError(f"tmux: {exc}") from None


def check(text: str) -> None:
    """A reply's text must be one line of printable text, not empty, not too long."""
    if text != clean(text) or "\n" in text:
        raise ReplyError("the text holds control characters or line breaks: nothing sent")
    if not text.strip():
        raise ReplyError("nothing to send")
    if len(text) > MAX_TEXT:
        raise ReplyError(f"the text is longer than {MAX_TEXT} characters: nothing sent")


def _screen(tmux: Tmux, pane: str) -> str:
    return tmux.capture([pane]).get(pane, "")


def _wait(tmux: Tmux, pane: str, done: Callable[[str], bool], timeout: float = 2.0) -> str | None:
    """The pane's screen once `done` holds for it, or None after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        screen = _screen(tmux, pane)
        if done(screen):
            return screen
        if time.monotonic() >= end:
            return None
        time.sleep(0.1)


def _type(tmux: Tmux, pane: str, text: str) -> None:
    """Keys for the text as it is: `-l` (no key names), `--` (no flags), `\\;` (no command
    separator); tmux runs no shell for send-keys."""
    tmux.cmd("send-keys", "-t", pane, "-l", "--", literal(text))


def _prompt(tmux: Tmux, agent: Agent, pane: str, screen: str, text: str) -> str:
    draft = prompt.input_box(screen)
    if draft is None:
        raise ReplyError("the pane does not show opencode's prompt input (a dialog open?)")
    if draft:
        raise ReplyError("the prompt input already holds text (a draft?): nothing sent")
    if text.startswith(("!", "/")):
        raise ReplyError("a text starting with ! or / is a shell or slash command: type it there")
    _type(tmux, pane, text)
    if _wait(tmux, pane, lambda s: squeeze(prompt.input_box(s) or "") == squeeze(text)) is None:
        raise ReplyError("the text did not show in the prompt input: typed, not sent")
    tmux.keys(pane, "Enter")
    queued = " (queued behind the running turn)" if agent.group == Group.WORKING else ""
    return f"sent to {agent.pane.location if agent.pane else pane}{queued}"


def _answer(tmux: Tmux, pane: str, asked: prompt.Question, text: str) -> str:
    if asked.several:
        raise ReplyError("a dialog of several questions: answer it in the pane")
    digit = int(text) if text.isdigit() else None
    if digit is not None and 1 <= digit <= min(len(asked.options), 9) and digit != asked.custom:
        choice = asked.options[digit - 1]
        tmux.keys(pane, str(digit))
        if _wait(tmux, pane, lambda s: prompt.question(s) is None) is None:
            raise ReplyError(f"pressed {digit}, but the dialog is still open")
        return f"answered {choice!r}"
    if asked.custom is None or asked.custom > 9:
        raise ReplyError("this question takes no typed answer: send the number of a choice")
    if asked.typed is None:
        tmux.keys(pane, str(asked.custom))
        if _wait(tmux, pane, lambda s: _open(s, asked)) is None:
            raise ReplyError("the dialog did not open its answer line: nothing sent")
    elif asked.typed:
        raise ReplyError("the answer line already holds text: nothing sent")
    _type(tmux, pane, text)
    shown = _wait(tmux, pane, lambda s: _holds(s, asked, text))
    if shown is None:
        raise ReplyError("the answer did not show in the dialog: typed, not sent")
    tmux.keys(pane, "Enter")
    if _wait(tmux, pane, lambda s: prompt.question(s) is None) is None:
        raise ReplyError("pressed Enter, but the dialog is still open")
    return f"answered {text!r}"


def _open(screen: str, asked: prompt.Question) -> bool:
    q = prompt.question(screen)
    return q is not None and q.key() == asked.key() and q.typed == ""


def _holds(screen: str, asked: prompt.Question, text: str) -> bool:
    q = prompt.question(screen)
    if q is None or q.key() != asked.key() or not q.typed:
        return False
    shown, want = squeeze(q.typed), squeeze(text)
    return shown == want or (len(shown) >= 20 and want.startswith(shown))  # a wrapped answer
