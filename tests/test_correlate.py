"""Correlation tiers, each where it is the deciding one, plus conflicts and ambiguity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otop.core.model import Confidence, LogRun, Pane, Proc, ProcKind, SessionBrief
from otop.decide.correlate import correlate
from otop.decide.tiers import Binding, World

NOW = 1_800_000_000.0


def proc(
    pid: int,
    cwd: str = "/p",
    started: float = NOW - 100,
    tty: str | None = None,
    session: str | None = None,
    kind: ProcKind = ProcKind.TUI,
) -> Proc:
    return Proc(
        pid=pid,
        kind=kind,
        argv=("opencode",),
        cwd=cwd,
        tty=tty,
        started_at=started,
        rss_bytes=1,
        cpu_percent=0.0,
        session_arg=session,
    )


def pane(pid: str, tty: str, title: str = "", shell: int = 1) -> Pane:
    return Pane(
        id=pid,
        session="s",
        window_index=int(pid[1:]),
        window_id="@" + pid[1:],
        window_name="w",
        pane_index=0,
        tty=tty,
        pid=shell,
        title=title,
        current_command="opencode",
    )


def ses(
    sid: str, title: str = "t", d: str = "/p", updated: float = NOW - 50, parent: str | None = None
) -> SessionBrief:
    return SessionBrief(
        id=sid,
        title=title,
        directory=d,
        created_at=updated - 10,
        updated_at=updated,
        interactive=parent is None,
        parent_id=parent,
    )


def run(rid: str, started: float, d: str = "/p", sessions: tuple[str, ...] = ()) -> LogRun:
    return LogRun(
        run_id=rid,
        started_at=started,
        directory=d,
        sessions=sessions,
        last_session_at=started + 5 if sessions else None,
    )


def world(
    procs: list[Proc],
    panes: Sequence[Pane] = (),
    runs: Sequence[LogRun] = (),
    sessions: Sequence[SessionBrief] = (),
    **kw: Any,
) -> World:
    return World(
        procs,
        list(panes),
        list(runs),
        kw.pop("process_runs", {}),
        {s.id: s for s in sessions},
        now=NOW,
        **kw,
    )


def by_pid(bindings: list[Binding]) -> dict[int, Binding]:
    return {b.proc.pid: b for b in bindings}


def test_pane_by_tty() -> None:
    """A process is put in the pane whose tty it holds (certain)."""
    b = correlate(
        world([proc(1, tty="/dev/pts/3")], [pane("%1", "/dev/pts/2"), pane("%2", "/dev/pts/3")])
    )
    assert b[0].pane is not None and b[0].pane.id == "%2"
    assert b[0].pane_evidence.confidence == Confidence.CERTAIN


def test_argv_session_is_certain() -> None:
    """`-s ses_B` decides even when another session in the directory is newer."""
    b = correlate(
        world([proc(1, session="ses_B")], sessions=[ses("ses_A", updated=NOW), ses("ses_B")])
    )
    assert b[0].session_id == "ses_B"
    assert b[0].session_evidence.source == "argv"
    assert b[0].session_evidence.confidence == Confidence.CERTAIN


def test_log_run_names_session() -> None:
    """The process's log run (matched by start time and directory) names its session: shared
    evidence, so likely on its own and certain only when the pane's own title agrees."""
    procs = [proc(1, started=NOW - 100, tty="/dev/pts/1")]
    runs = [run("r1", NOW - 97.5, sessions=("ses_A",))]
    sessions = [ses("ses_A", "Title of A"), ses("ses_Z", updated=NOW)]
    b = correlate(world(procs, runs=runs, sessions=sessions))
    assert b[0].session_id == "ses_A"
    assert b[0].session_evidence.source == "log"
    assert b[0].session_evidence.confidence == Confidence.LIKELY
    panes = [pane("%1", "/dev/pts/1", "OC | Title of A")]
    b = correlate(world(procs, panes, runs=runs, sessions=sessions))
    assert b[0].session_id == "ses_A"
    assert b[0].session_evidence.confidence == Confidence.CERTAIN
    assert "log agrees" in b[0].session_evidence.notes


def test_log_run_child_maps_to_root() -> None:
    """A run whose newest session is a subagent maps to that subagent's root session."""
    runs = [run("r1", NOW - 98, sessions=("ses_A", "ses_child"))]
    sessions = [ses("ses_A"), ses("ses_child", parent="ses_A")]
    b = correlate(world([proc(1)], runs=runs, sessions=sessions))
    assert b[0].session_id == "ses_A"


def test_two_tuis_same_dir_get_own_sessions() -> None:
    """Two processes in one directory each get the session of their own log run, not swapped."""
    procs = [proc(1, started=NOW - 200), proc(2, started=NOW - 100)]
    runs = [run("r1", NOW - 197, sessions=("ses_old",)), run("r2", NOW - 97, sessions=("ses_new",))]
    sessions = [ses("ses_old", updated=NOW - 1), ses("ses_new", updated=NOW - 80)]
    b = by_pid(correlate(world(procs, runs=runs, sessions=sessions)))
    assert b[1].session_id == "ses_old"
    assert b[2].session_id == "ses_new"


def test_new_tui_not_paired_with_dead_session() -> None:
    """A fresh TUI whose run touched no session is `no session`, not the last dead session; the
    home-screen title makes that certain."""
    runs = [run("r1", NOW - 97)]
    sessions = [ses("ses_dead", updated=NOW - 10)]
    b = correlate(world([proc(1, tty="/dev/pts/1")], runs=runs, sessions=sessions))
    assert b[0].session_id is None
    assert b[0].session_evidence.confidence == Confidence.GUESS
    panes = [pane("%1", "/dev/pts/1", "OpenCode")]
    b = correlate(world([proc(1, tty="/dev/pts/1")], panes, runs, sessions))
    assert b[0].session_id is None
    assert b[0].session_evidence.confidence == Confidence.CERTAIN


def test_pane_title_tier() -> None:
    """Without log or argv, a pane title `OC | <title>` fitting one session decides (likely)."""
    panes = [pane("%1", "/dev/pts/1", "OC | Fix the flaky test")]
    sessions = [
        ses("ses_A", "Fix the flaky test", updated=NOW - 500),
        ses("ses_B", "Other", updated=NOW),
    ]
    b = correlate(world([proc(1, tty="/dev/pts/1")], panes, sessions=sessions))
    assert b[0].session_id == "ses_A"
    assert b[0].session_evidence.source == "pane title"
    assert b[0].session_evidence.confidence == Confidence.LIKELY


def test_pane_title_cut_at_40() -> None:
    """A long title is matched by its first 40 characters, as the TUI cuts it."""
    long = "A very long session title that goes on and on past forty"
    panes = [pane("%1", "/dev/pts/1", "OC | " + long[:40])]
    b = correlate(world([proc(1, tty="/dev/pts/1")], panes, sessions=[ses("ses_A", long)]))
    assert b[0].session_id == "ses_A"


def test_pane_title_as_tmux_37_keeps_it() -> None:
    """A title holding `\\` and `#(` matches as tmux 3.7 and newer keep it in the pane title
    (backslashes doubled, `#(` made `_(`), and a title differing elsewhere still does not."""
    title = "Fix C:\\tmp #(quoting)"
    panes = [
        pane("%1", "/dev/pts/1", "OC | Fix C:\\\\tmp _(quoting)"),
        pane("%2", "/dev/pts/2", "OC | Fix C:\\\\tmp _(quoted)"),
    ]
    procs = [proc(1, tty="/dev/pts/1"), proc(2, tty="/dev/pts/2")]
    b = correlate(world(procs, panes, sessions=[ses("ses_A", title)]))
    assert [x.session_id for x in b] == ["ses_A", None]
    assert b[0].session_evidence.source == "pane title"


def test_home_title_means_no_session() -> None:
    """The home-screen title `OpenCode` means no session is open."""
    panes = [pane("%1", "/dev/pts/1", "OpenCode")]
    b = correlate(world([proc(1, tty="/dev/pts/1")], panes, sessions=[ses("ses_A", updated=NOW)]))
    assert b[0].session_id is None


def test_db_activity_tier() -> None:
    """With no log or title, the only session active since the process started is offered, as
    a guess (another process may have made it and gone)."""
    sessions = [ses("ses_A", updated=NOW - 10), ses("ses_B", updated=NOW - 5000)]
    b = correlate(world([proc(1, started=NOW - 100)], sessions=sessions))
    assert b[0].session_id == "ses_A"
    assert b[0].session_evidence.source == "db activity"
    assert b[0].session_evidence.confidence == Confidence.GUESS


def test_recency_is_marked_guess() -> None:
    """When only recency is left, the pairing is a guess and says so."""
    sessions = [ses("ses_A", updated=NOW - 5000), ses("ses_B", updated=NOW - 9000)]
    b = correlate(world([proc(1, started=NOW - 100)], sessions=sessions))
    assert b[0].session_id == "ses_A"
    assert b[0].session_evidence.confidence == Confidence.GUESS


def test_same_dir_without_evidence_cannot_tell() -> None:
    """Two processes in one directory with no per-process evidence are not assigned by guess."""
    procs = [proc(1, started=NOW - 300), proc(2, started=NOW - 200)]
    sessions = [ses("ses_A", updated=NOW - 10), ses("ses_B", updated=NOW - 20)]
    b = by_pid(correlate(world(procs, sessions=sessions)))
    assert b[1].session_id is None and b[2].session_id is None
    assert "cannot tell" in b[1].session_evidence.detail


def test_conflict_title_beats_log_and_keeps_note() -> None:
    """When the pane's own title names one session and the (shared) log another, the title wins
    at likely, and a note says what the log claimed."""
    panes = [pane("%1", "/dev/pts/1", "OC | Title of B")]
    runs = [run("r1", NOW - 98, sessions=("ses_A",))]
    sessions = [ses("ses_A", "Title of A"), ses("ses_B", "Title of B")]
    b = correlate(world([proc(1, tty="/dev/pts/1")], panes, runs, sessions))
    assert b[0].session_id == "ses_B"
    assert b[0].session_evidence.confidence == Confidence.LIKELY
    assert any("ses_A" in n for n in b[0].session_evidence.notes)


def test_run_outside_window_not_matched() -> None:
    """A run that began before the process started cannot be that process's run."""
    runs = [run("r1", NOW - 150, sessions=("ses_A",))]
    b = correlate(
        world([proc(1, started=NOW - 100)], runs=runs, sessions=[ses("ses_A", updated=NOW - 500)])
    )
    assert b[0].run is None
    assert b[0].session_evidence.source != "log"


def test_simultaneous_starts_give_no_log_evidence() -> None:
    """Three TUIs started within 100 ms in one directory: their runs fit every process, so the
    log binds none of them (it used to pair them by start order and swap them)."""
    procs = [proc(i, started=NOW - 60 + i * 0.03, tty=f"/dev/pts/{i}") for i in (1, 2, 3)]
    # Runs begin 4.1-4.5 s later in an order unrelated to the processes'.
    runs = [
        run(f"r{i}", NOW - 60 + lag, sessions=(f"ses_{i}",))
        for i, lag in ((3, 4.1), (1, 4.3), (2, 4.5))
    ]
    sessions = [ses(f"ses_{i}", f"Title {i}") for i in (1, 2, 3)]
    b = by_pid(correlate(world(procs, runs=runs, sessions=sessions)))
    for i in (1, 2, 3):
        assert b[i].run is None
        assert b[i].session_id is None and b[i].ambiguous
    panes = [pane(f"%{10 + i}", f"/dev/pts/{i}", f"OC | Title {i}") for i in (1, 2, 3)]
    b = by_pid(correlate(world(procs, panes, runs, sessions)))
    for i in (1, 2, 3):
        assert b[i].session_id == f"ses_{i}"
        assert b[i].session_evidence.source == "pane title"
        assert b[i].session_evidence.confidence == Confidence.LIKELY


def test_forced_run_pairs_survive() -> None:
    """A run only one process can have written is that process's, and then so is the other."""
    procs = [proc(1, started=NOW - 100), proc(2, started=NOW - 90)]
    runs = [run("r1", NOW - 97, sessions=("ses_A",)), run("r2", NOW - 87, sessions=("ses_B",))]
    b = by_pid(correlate(world(procs, runs=runs, sessions=[ses("ses_A"), ses("ses_B")])))
    assert (b[1].session_id, b[2].session_id) == ("ses_A", "ses_B")


def test_run_in_another_directory_is_not_evidence() -> None:
    """A run whose `directory=` is not the process's directory is not that process's run, and a
    run naming a session of another directory names nothing for it."""
    runs = [run("r1", NOW - 98, d="/elsewhere", sessions=("ses_A",))]
    b = correlate(world([proc(1)], runs=runs, sessions=[ses("ses_A", d="/elsewhere")]))
    assert b[0].run is None and b[0].session_id is None
    runs = [run("r1", NOW - 98, sessions=("ses_X",))]
    b = correlate(world([proc(1)], runs=runs, sessions=[ses("ses_X", d="/elsewhere")]))
    assert b[0].session_id != "ses_X"


def test_shared_114_log_file_is_not_anyones() -> None:
    """opencode 1.14: a log file two processes of one directory hold names sessions of neither;
    two processes of different directories each get their own directory's session, as a guess
    (the lines carry no process id, and a process that shared the file may be gone)."""
    f = LogRun(
        run_id="2026-11-25T141206",
        started_at=NOW - 100,
        directory=None,
        sessions=("ses_A", "ses_B"),
        source="/log/2026-11-25T141206.log",
    )
    sessions = [ses("ses_A", d="/a"), ses("ses_B", d="/b")]
    same = [proc(1, cwd="/a"), proc(2, cwd="/a")]
    b = by_pid(correlate(world(same, sessions=sessions, process_runs={1: [f], 2: [f]})))
    assert all(x.session_evidence.source != "log" for x in b.values())
    other = [proc(1, cwd="/a"), proc(2, cwd="/b")]
    b = by_pid(correlate(world(other, sessions=sessions, process_runs={1: [f], 2: [f]})))
    assert (b[1].session_id, b[2].session_id) == ("ses_A", "ses_B")
    assert b[1].session_evidence.confidence == Confidence.GUESS


def test_titles_decide_a_directory_together() -> None:
    """Two sessions with one title: the pane whose argv names one leaves the other to the pane
    whose title fits both, as a guess (two TUIs may show one session)."""
    procs = [proc(1, tty="/dev/pts/1"), proc(2, tty="/dev/pts/2", session="ses_B")]
    panes = [pane("%11", "/dev/pts/1", "OC | Same"), pane("%12", "/dev/pts/2", "OC | Same")]
    sessions = [ses("ses_A", "Same"), ses("ses_B", "Same")]
    b = by_pid(correlate(world(procs, panes, sessions=sessions)))
    assert b[2].session_id == "ses_B" and b[2].session_evidence.confidence == Confidence.CERTAIN
    assert b[1].session_id == "ses_A" and b[1].session_evidence.confidence == Confidence.GUESS


def test_identical_titles_cannot_tell_until_the_screen_does() -> None:
    """Two panes whose titles fit the same two sessions cannot be told apart, until each screen
    shows one session's newest prompt."""
    procs = [proc(1, tty="/dev/pts/1"), proc(2, tty="/dev/pts/2")]
    panes = [pane("%11", "/dev/pts/1", "OC | Same"), pane("%12", "/dev/pts/2", "OC | Same")]
    sessions = [ses("ses_A", "Same"), ses("ses_B", "Same")]
    b = by_pid(correlate(world(procs, panes, sessions=sessions)))
    assert all(x.ambiguous and x.session_id is None for x in b.values())
    assert set(b[1].candidates) == {"ses_A", "ses_B"}
    screens = {"%11": "  ┃  please fix the parser bug\n", "%12": "  ┃  write the release notes\n"}
    prompts = {"ses_A": "write the release notes", "ses_B": "please fix the parser bug"}
    b = by_pid(correlate(world(procs, panes, sessions=sessions, screens=screens, prompts=prompts)))
    assert (b[1].session_id, b[2].session_id) == ("ses_B", "ses_A")
    assert b[1].session_evidence.confidence == Confidence.LIKELY  # the screen alone decides


def test_argv_and_title() -> None:
    """argv `-s` with an agreeing title is certain; a title naming another session (the user
    switched sessions inside the TUI) wins, at likely."""
    sessions = [ses("ses_A", "Alpha"), ses("ses_B", "Beta")]
    p = [proc(1, tty="/dev/pts/1", session="ses_A")]
    b = correlate(world(p, [pane("%1", "/dev/pts/1", "OC | Alpha")], sessions=sessions))
    assert b[0].session_id == "ses_A" and b[0].session_evidence.confidence == Confidence.CERTAIN
    b = correlate(world(p, [pane("%1", "/dev/pts/1", "OC | Beta")], sessions=sessions))
    assert b[0].session_id == "ses_B" and b[0].session_evidence.confidence == Confidence.LIKELY


def test_young_process_ignores_a_title_left_behind() -> None:
    """A process seconds old whose pane still carries an old session's title is not bound to
    that session until its screen shows the TUI drawn (and so the title set by itself)."""
    p = [proc(1, tty="/dev/pts/1", started=NOW - 3)]
    sessions = [ses("ses_old", "Old work", updated=NOW - 600)]
    panes = [pane("%1", "/dev/pts/1", "OC | Old work")]
    b = correlate(world(p, panes, sessions=sessions))
    assert b[0].wants_screen
    assert b[0].session_id != "ses_old" or b[0].session_evidence.confidence == Confidence.GUESS
    b = correlate(world(p, panes, sessions=sessions, screens={"%1": "$ opencode\n"}))
    assert b[0].session_id != "ses_old" or b[0].session_evidence.confidence == Confidence.GUESS
    drawn = {"%1": "  Old work\n  ctrl+p commands  OpenCode 1.18.33\n"}
    b = correlate(world(p, panes, sessions=sessions, screens=drawn))
    assert b[0].session_id == "ses_old"
    assert b[0].session_evidence.confidence == Confidence.LIKELY
