"""What opencode's servers send alike, 1.x `opencode serve` and opencode 2's service: the
session object's model, agent, tokens and cost, and the typed reading of any JSON field (a
malformed one degrades to a default, never raises)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from otop.core.model import SessionBrief, SessionDetail, Tokens, Turn
from otop.core.text import clean

Json = Mapping[str, Any]


def session_detail(
    s: Json, brief: SessionBrief, messages: int, last_output: str, turn: Turn
) -> SessionDetail:
    """A session object's detail: its model, agent, tokens and cost, with what was read of its
    messages."""
    model, tokens = as_map(s.get("model")), as_map(s.get("tokens"))
    cache = as_map(tokens.get("cache"))
    return SessionDetail(
        brief=brief,
        model=clean(f"{model.get('providerID', '')}/{model.get('id', '')}").strip("/"),
        agent=clean(str(s.get("agent") or "")),
        tokens=Tokens(
            input=as_int(tokens.get("input")),
            output=as_int(tokens.get("output")),
            reasoning=as_int(tokens.get("reasoning")),
            cache_read=as_int(cache.get("read")),
            cache_write=as_int(cache.get("write")),
        ),
        cost=finite(s.get("cost")),
        messages=messages,
        last_output=last_output,
        turn=turn,
    )


def as_map(v: object) -> Json:
    return v if isinstance(v, Mapping) else {}


def as_int(v: object) -> int:
    return int(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0


def finite(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0.0


def seconds(ms: object) -> float:
    """Epoch milliseconds as seconds (0 for anything else)."""
    return float(ms) / 1000.0 if isinstance(ms, (int, float)) and math.isfinite(ms) else 0.0
