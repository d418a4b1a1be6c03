"""opencode's log read into runs: sessions per run, pending asks, large files, old formats."""

from __future__ import annotations

import json
from pathlib import Path

from otop.sources.opencode.logs import SharedLog, parse_pairs, parse_time, read_process_log

T0 = "2026-11-25T14:29:3"


def line(sec: float, run: str, message: str, **kv: str) -> str:
    stamp = f"2026-11-25T14:{int(sec // 60):02d}:{sec % 60:06.3f}Z"
    pairs = " ".join(f"{k.replace('__', '.')}={v}" for k, v in kv.items())
    msg = f'"{message}"' if " " in message else message
    return f"timestamp={stamp} level=INFO run={run} message={msg} {pairs}".rstrip() + "\n"


def write(path: Path, *lines: str) -> None:
    with path.open("a") as f:
        f.writelines(lines)


def test_parse_pairs_quotes() -> None:
    """Quoted values keep their spaces; dotted keys are kept whole."""
    p = parse_pairs(
        'timestamp=x message="creating instance" session.id=ses_1 patterns="[\\"/etc/*\\"]"'
    )
    assert p["message"] == "creating instance"
    assert p["session.id"] == "ses_1"
    assert p["patterns"] == '["/etc/*"]'


def test_runs_sessions_and_asks(tmp_path: Path) -> None:
    """A run's directory, start, sessions (newest last) and a pending permission are read."""
    log = tmp_path / "opencode.log"
    sid1, sid2 = "ses_aaaaaaaaaaaaaaaaaaaaaaaaaa", "ses_bbbbbbbbbbbbbbbbbbbbbbbbbb"
    write(
        log,
        line(10, "r1", "creating instance", directory="/p"),
        line(11, "r1", "created", id=sid1, directory="/p"),
        line(12, "r1", "loop", session__id=sid1, step="0"),
        line(13, "r2", "creating instance", directory="/q"),
        line(20, "r1", "loop", session__id=sid2, step="0"),
        line(21, "r1", "asking", id="per_x1", permission="bash"),
        line(22, "r1", "cleanup", prune="7.days"),
    )
    reader = SharedLog(log)
    runs = {r.run_id: r for r in reader.update(since=parse_time("2026-11-25T14:00:05Z") or 0)}
    r1 = runs["r1"]
    assert r1.directory == "/p"
    assert r1.sessions == (sid1, sid2)
    assert r1.created == (sid1,)
    assert r1.pending_ask == "per_x1"
    assert runs["r2"].sessions == ()
    write(
        log,
        line(30, "r1", "evaluated", permission="bash"),
        line(31, "r1", "loop", session__id=sid2),
    )
    r1 = {r.run_id: r for r in reader.update(since=0)}["r1"]
    assert r1.pending_ask is None
    assert r1.last_session == sid2


def test_partial_line_waits(tmp_path: Path) -> None:
    """A line still being written is read only once it ends."""
    log = tmp_path / "opencode.log"
    full = line(10, "r1", "loop", session__id="ses_cccccccccccccccccccccccccc")
    write(log, full[:30])
    reader = SharedLog(log)
    assert reader.update(0) == []
    write(log, full[30:])
    assert reader.update(0)[0].sessions == ("ses_cccccccccccccccccccccccccc",)


def test_large_log_reads_only_recent_part(tmp_path: Path) -> None:
    """In a long log, the first read starts near the wanted time instead of the beginning."""
    log = tmp_path / "opencode.log"
    with log.open("w") as f:
        for i in range(40000):
            hms = f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            f.write(
                f"timestamp=2026-11-24T{hms}.000Z level=INFO run=old{i % 7} message=noise n={i}\n"
            )
        f.write(line(10, "new", "creating instance", directory="/p"))
    reader = SharedLog(log)
    since = parse_time("2026-11-25T14:00:00Z") or 0
    runs = reader.update(since)
    assert [r.run_id for r in runs] == ["new"]
    assert reader.bytes_read < log.stat().st_size / 4


def test_truncated_log_restarts(tmp_path: Path) -> None:
    """A log that shrinks (rotated or truncated) is read again from its start."""
    log = tmp_path / "opencode.log"
    write(log, line(10, "r1", "creating instance", directory="/p"), line(11, "r1", "x"))
    reader = SharedLog(log)
    reader.update(0)
    log.write_text(line(12, "r9", "creating instance", directory="/z"))
    assert [r.run_id for r in reader.update(0)] == ["r9"]


def kept_and_taken_up(reader: SharedLog, path: Path) -> SharedLog:
    """A reader of the next one-shot that took up what `reader` kept (through JSON, as kept)."""
    state = reader.kept()
    assert state is not None
    again = SharedLog(path)
    assert again.take_up(json.loads(json.dumps(state)))
    return again


def test_a_reader_goes_on_from_what_another_kept(tmp_path: Path) -> None:
    """A one-shot's reader goes on from where the last one-shot's stopped (a half-written line
    and a pending question among what it kept) and folds the same runs as one reader that read
    it all; it reads only what was appended since."""
    log = tmp_path / "opencode.log"
    sid1, sid2 = "ses_aaaaaaaaaaaaaaaaaaaaaaaaaa", "ses_bbbbbbbbbbbbbbbbbbbbbbbbbb"
    half = line(22, "r2", "loop", session__id=sid2)
    write(
        log,
        line(10, "r1", "creating instance", directory="/p"),
        line(11, "r1", "created", id=sid1, directory="/p"),
        line(12, "r2", "creating instance", directory="/q"),
        line(20, "r1", "loop", session__id=sid2, step="0"),
        line(21, "r1", "asking", id="que_x1"),
        line(21.5, "r1", "loop", session__id=sid1, step="1"),
        half[:25],
    )
    first = SharedLog(log)
    first.update(0)
    second = kept_and_taken_up(first, log)
    write(log, half[25:], line(30, "r1", "asking", id="per_y2"), line(31, "r3", "x"))
    whole = SharedLog(log).update(0)
    assert second.update(0) == whole
    assert second.bytes_read == log.stat().st_size - first.bytes_read
    third = kept_and_taken_up(second, log)
    write(log, line(32, "r1", "evaluated", permission="bash"))
    assert third.update(0) == SharedLog(log).update(0) != whole


def test_what_another_reader_kept_of_another_file_is_not_taken_up(tmp_path: Path) -> None:
    """A log replaced (another inode) or cut shorter than where the kept reader stopped is
    read again from its start; a state that is not whole is refused."""
    log = tmp_path / "opencode.log"
    write(log, line(10, "r1", "creating instance", directory="/p"), line(11, "r1", "x"))
    reader = SharedLog(log)
    reader.update(0)
    state = reader.kept()
    assert state is not None
    text = log.read_text()
    with log.open("r+") as f:  # the same file (inode), written again from its start
        f.write(text.replace("run=r1", "run=r7"))
    assert not SharedLog(log).take_up(state)
    log.write_text(line(12, "r9", "x"))  # shorter
    again = SharedLog(log)
    assert not again.take_up(state)
    assert [r.run_id for r in again.update(0)] == ["r9"]
    other = tmp_path / "other.log"
    write(other, line(10, "r1", "creating instance", directory="/p"), line(11, "r1", "x"))
    write(other, line(13, "r8", "x"))
    other.replace(log)  # longer, another file
    again = SharedLog(log)
    assert not again.take_up(state)
    assert [r.run_id for r in again.update(0)] == ["r1", "r8"]
    for broken in ({**state, "runs": [["r1", 1.0]]}, {**state, "offset": "x"}, {"inode": 1}):
        assert not SharedLog(log).take_up(broken)


def test_missing_log(tmp_path: Path) -> None:
    """No log file means no runs, not an error."""
    assert SharedLog(tmp_path / "none.log").update(0) == []


def test_per_process_log_1_14(tmp_path: Path) -> None:
    """A 1.14 per-process log file yields its start time and sessions."""
    f = tmp_path / "2026-11-25T141206.log"
    f.write_text(
        "INFO  2026-11-25T14:12:06 +0ms service=default version=1.14.48 args=[] opencode\n"
        "INFO  2026-11-25T14:12:31 +24781ms service=session id=ses_dddddddddddddddddddddddddd "
        "directory=/p title=x created\n"
        "INFO  2026-11-25T14:12:32 +1ms service=session.prompt "
        "session.id=ses_dddddddddddddddddddddddddd step=0 loop\n"
    )
    run = read_process_log(f)
    assert run is not None
    assert run.started_at == parse_time("2026-11-25T14:12:06Z")
    assert run.sessions == ("ses_dddddddddddddddddddddddddd",)
    assert run.created == ("ses_dddddddddddddddddddddddddd",)


def test_lines_without_a_session_keep_times_and_answer_questions(tmp_path: Path) -> None:
    """Lines that name no session (read off their head alone) still count for their run's
    first and last line, and a working line after a question still answers it; a quoted
    value that imitates a head or a pair changes nothing."""
    log = tmp_path / "opencode.log"
    sid = "ses_aaaaaaaaaaaaaaaaaaaaaaaaaa"
    write(
        log,
        line(5, "r1", "init"),
        line(10, "r1", "loop", session__id=sid),
        line(12, "r1", "asking", id="per_1", session__id=sid),
        line(13, "r1", "tracking", hash="abc"),
        line(14, "r2", "init", title='"x run=r1 level=INFO"'),
    )
    (run,) = [r for r in SharedLog(log).update(0.0) if r.run_id == "r1"]
    assert run.pending_ask == "per_1"
    assert run.started_at == parse_time("2026-11-25T14:00:05.000Z")
    assert run.last_line_at == parse_time("2026-11-25T14:00:13.000Z")
    write(log, line(20, "r1", "stream"))
    (run,) = [r for r in SharedLog(log).update(0.0) if r.run_id == "r1"]
    assert run.pending_ask is None and run.sessions == (sid,)
    assert run.last_line_at == parse_time("2026-11-25T14:00:20.000Z")


def test_parse_time_forms() -> None:
    """Every form a log or a file name holds, the same seconds as datetime gives them."""
    from datetime import datetime, timezone

    def utc(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0) -> float:
        return datetime(y, mo, d, h, mi, s, us, tzinfo=timezone.utc).timestamp()

    assert parse_time("2026-11-25T14:29:30.123Z") == utc(2026, 11, 25, 14, 29, 30, 123000)
    assert parse_time("2026-11-25T14:29:30.123456") == utc(2026, 11, 25, 14, 29, 30, 123456)
    assert parse_time('"2026-11-25T14:29:30.5Z"') == utc(2026, 11, 25, 14, 29, 30, 500000)
    assert parse_time("2026-11-25T14:29:30Z") == utc(2026, 11, 25, 14, 29, 30)
    assert parse_time("2026-11-25T142930") == utc(2026, 11, 25, 14, 29, 30)
    assert parse_time("2026-11-25T14:29:30+02:00") == utc(2026, 11, 25, 12, 29, 30)
    assert parse_time("2026-13-25T14:29:30.1Z") is None and parse_time("x") is None
