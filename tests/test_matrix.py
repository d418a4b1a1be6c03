"""The tmux matrix table that scripts/test prints from each lane's JUnit results."""

from __future__ import annotations

from pathlib import Path

from devtools.matrix import outcomes, table

CASES = """<testsuites><testsuite>
<testcase classname="tests.test_plugin" name="test_next_key_jumps_to_the_agent_waiting"/>
<testcase classname="tests.test_picker" name="test_a_filter_and_one_enter_land_on_the_pane[0s]"/>
<testcase classname="tests.test_picker" name="test_a_filter_and_one_enter_land_on_the_pane[0.3s]">
{failure}</testcase>
<testcase classname="tests.test_notify" name="test_the_bell_rings_in_the_agents_window">
<skipped/></testcase>
</testsuite></testsuites>"""


def test_cells_pass_fail_or_did_not_run(tmp_path: Path) -> None:
    """A cell passes when its tests ran and passed, fails when one failed, and says `-` where
    none ran (a skipped test did not run); a failure anywhere makes the table not ok."""
    good, bad = tmp_path / "tmux-3.1c.xml", tmp_path / "tmux-3.5a.xml"
    good.write_text(CASES.format(failure=""))
    bad.write_text(CASES.format(failure='<failure message="timed out"/>'))
    text, ok = table({"tmux-3.1c": outcomes(good), "tmux-3.5a": outcomes(bad)})
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()}
    assert rows["prefix+N"] == "| prefix+N | pass 1 | pass 1 |"
    assert rows["keys, 0.3 s"] == "| keys, 0.3 s | pass 1 | FAIL 1 |"
    assert rows["one Enter"] == "| one Enter | pass 2 | FAIL 1 |"
    assert rows["notifications"] == "| notifications | - | - |"
    assert not ok
    assert table({"tmux-3.1c": outcomes(good)})[1]
