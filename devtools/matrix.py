"""The tmux matrix as a table: what each lane of `scripts/test` proved, per tmux version.

Each lane writes pytest's JUnit XML as `LABEL.xml` (scripts/test: `tmux-3.5a.xml`, ...).
A cell names the tests that prove it; it reads `pass N` when every one of them that ran on
that version passed, `FAIL` when any failed or erred, `-` when none ran there.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# cell -> patterns of `module::test` (a parametrized test's id included).
CELLS: dict[str, list[str]] = {
    "panes found": [
        "tests.test_tmux_read::test_pane_records_survive_hostile_titles",
        "tests.test_tmux_read::test_names_and_values_are_exact",
        "tests.test_plugin::test_watcher_sets_counts_and_badges",
        "tests.e2e.test_real_opencode::*",
        "tests.e2e.test_simultaneous::*",
    ],
    "badges": [
        "tests.test_picker::test_counts_and_badges_match_the_listing",
        "tests.test_plugin::test_watcher_sets_counts_and_badges",
        "tests.test_plugin::test_badge_follows_a_state_change_quickly",
        "tests.test_plugin::test_tmux_escape_through_a_real_status_line*",
        "tests.test_plugin::test_hostile_titles_never_reach_tmux",
    ],
    "counts": [
        "tests.test_picker::test_counts_and_badges_match_the_listing",
        "tests.test_plugin::test_watcher_sets_counts_and_badges",
        "tests.test_picker::test_rows_show_and_another_client_stays",
    ],
    "picker": [
        "tests.test_picker::test_rows_show_and_another_client_stays",
        "tests.test_picker::test_escape_closes_it_where_it_was*",
        "tests.test_plugin::test_popup_enter_jumps_to_the_pane",
        "tests.test_entry_points::*",
    ],
    "keys, same write": [
        "tests.test_picker::test_a_filter_and_one_enter_land_on_the_pane[[]0s]",
        "tests.test_picker::test_moves_typed_at_once",
        "tests.e2e.test_attention_real::test_keys_typed_with_prefix_o_under_load",
    ],
    **{
        f"keys, {delay} s": [
            f"tests.test_picker::test_a_filter_and_one_enter_land_on_the_pane[[]{delay}s]",
            f"tests.test_picker::test_escape_closes_it_where_it_was[[]{delay}s]",
            "tests.e2e.test_attention_real::test_keys_typed_with_prefix_o_under_load",
        ]
        for delay in ("0.1", "0.3", "0.6", "1")
    },
    "typed at a person's speed": ["tests.test_picker::test_typed_at_a_persons_speed"],
    "one Enter": ["tests.test_picker::test_a_filter_and_one_enter_land_on_the_pane*"],
    "prefix+N": [
        "tests.test_plugin::test_next_key_jumps_to_the_agent_waiting",
        "tests.test_picker::test_counts_and_badges_match_the_listing",
    ],
    "captures": [
        "tests.test_tmux_read::test_capture_keeps_screen_text",
        "tests.test_plugin::test_watcher_sets_counts_and_badges",
        "tests.e2e.test_real_opencode::test_permission",
        "tests.e2e.test_real_opencode::test_question",
    ],
    "notifications": [
        "tests.test_notify::test_*",
        "tests.e2e.test_attention_real::test_a_permission_is_told_once_and_never_to_the_pane_looked_at",
        "tests.e2e.test_attention_real::test_a_turn_of_several_tool_calls_is_one_finish_and_an_unseen_mark",
    ],
    "reply, answer": [
        "tests.test_reply_tmux::*",
        "tests.e2e.test_attention_real::test_a_question_answered_from_the_popup",
        "tests.e2e.test_attention_real::test_the_next_prompt_sent_from_the_popup",
        "tests.e2e.test_real_opencode::test_answer_in_place",
    ],
    "uninstall": [
        "tests.test_plugin::test_uninstall_leaves_tmux_as_it_was",
        "tests.test_plugin::test_user_key_is_kept_and_reported_once",
    ],
}


@dataclass
class Cell:
    """How the tests behind one cell went on one version."""

    passed: int = 0
    failed: list[str] = field(default_factory=list)

    def text(self) -> str:
        if self.failed:
            return f"FAIL {len(self.failed)}"
        return f"pass {self.passed}" if self.passed else "-"


def outcomes(report: Path) -> dict[str, bool]:
    """`module::test` -> passed, for every test that ran (skipped ones are left out)."""
    out: dict[str, bool] = {}
    for case in ET.parse(report).iter("testcase"):
        if case.find("skipped") is not None:
            continue
        key = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = case.find("failure") is not None or case.find("error") is not None
        out[key] = out.get(key, True) and not bad
    return out


def _matches(test: str, pattern: str) -> bool:
    """A test by its name, any parametrized case of it included (`name[1.18.33]`)."""
    return fnmatch.fnmatchcase(test, pattern) or fnmatch.fnmatchcase(test, pattern + "[[]*]")


def table(lanes: dict[str, dict[str, bool]]) -> tuple[str, bool]:
    """The Markdown table (a row per cell, a column per lane) and whether every cell that ran
    passed."""
    names = list(lanes)
    rows = [f"| | {' | '.join(names)} |", f"|---|{'---|' * len(names)}"]
    ok = True
    for cell, patterns in CELLS.items():
        texts = []
        for lane in names:
            c = Cell()
            for test, passed in lanes[lane].items():
                if any(_matches(test, p) for p in patterns):
                    if passed:
                        c.passed += 1
                    else:
                        c.failed.append(test)
            ok = ok and not c.failed
            texts.append(c.text())
        rows.append(f"| {cell} | {' | '.join(texts)} |")
    return "\n".join(rows), ok


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", type=Path, help="LABEL.xml files, one per lane")
    args = ap.parse_args(list(argv) if argv is not None else None)
    lanes = {r.stem: outcomes(r) for r in args.reports if r.exists()}
    text, ok = table(lanes)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
