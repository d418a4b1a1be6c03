"""One opencode database and what scans keep of it: the read-only store, the index of root
sessions, the details cache, its shared log, the newest prompts read and its per-process
log runs. A scanner keeps one for each database its processes use (otop/scan/scanner.py)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence

from otop.core.model import Home, LogRun, Problem, Proc, SessionBrief
from otop.decide.runs import proc_dir
from otop.scan import kept
from otop.scan.details import Details
from otop.sources.opencode.connection import StoreError
from otop.sources.opencode.index import RootIndex
from otop.sources.opencode.logs import SharedLog, read_process_log
from otop.sources.opencode.paths import Paths
from otop.sources.opencode.store import Store


class Database:
    """The state of one opencode database between scans."""

    def __init__(self, paths: Paths, keep_dir: str | None = None) -> None:
        """`keep_dir`: where a one-shot scan keeps what it read of this database for the next
        (otop/scan/kept.py); None for scanners that live on (the watcher, the app, serve)."""
        self.paths = paths
        self.store = Store(paths.db)
        self.index = RootIndex(self.store)
        self.details = Details(self.store)
        self.log = SharedLog(paths.shared_log)
        self.prompts: dict[str, tuple[float | None, str]] = {}  # id -> (updated, prompt)
        self.process_logs: dict[str, tuple[int, LogRun]] = {}  # path -> (size, run)
        self.used = time.monotonic()  # when a scan last needed it
        self.keep = os.path.join(keep_dir, kept.kept_name(paths.db)) if keep_dir else None
        self._kept_text: str | None = None  # what is in the kept file now, as far as known

    @classmethod
    def of(cls, home: Home, keep_dir: str | None = None) -> Database:
        log_dir = os.path.join(home.data_dir, "log")
        return cls(Paths(home.data_dir, home.config_dir, home.db, log_dir), keep_dir)

    @property
    def path(self) -> str:
        return self.paths.db

    def close(self) -> None:
        self.store.close()

    def recall(self) -> None:
        """Take up what the last one-shot kept of this database (once, before its first scan;
        nothing without a keep directory)."""
        if self.keep is None or self._kept_text is not None:
            return
        self._kept_text = ""
        found = kept.read(self.keep)
        if found is None:
            return
        state, self._kept_text = found
        if isinstance(state.get("log"), dict):
            self.log.take_up(state["log"])
        if isinstance(state.get("index"), dict):
            with contextlib.suppress(StoreError):  # the scan says why, when it reads
                self.index.take_up(state["index"])

    def keep_for_next(self) -> None:
        """Leave this database's state for the next one-shot (written when it changed)."""
        if self.keep is None:
            return
        try:
            index = self.index.kept()
        except StoreError:
            index = None
        log = self.log.kept()
        if index is None and log is None:
            return  # nothing a next one-shot could go on from
        text = kept.text_of({"index": index, "log": log})
        if text != self._kept_text and kept.write(self.keep, text):
            self._kept_text = text

    def sessions(
        self,
        procs: Sequence[Proc],
        runs: Iterable[LogRun],
        into: dict[str, SessionBrief],
        since: float,
        problems: list[Problem],
    ) -> bool:
        """Load the sessions correlation may need: the recent root sessions of the processes'
        directories, those their argv and log runs name, and their parents; False when the
        database is unusable (the problem says why)."""
        try:
            self.store.open()
            dirs = {d for p in procs for d in (proc_dir(p), p.cwd) if d}
            for s in self.index.roots(dirs, since):
                into[s.id] = s
            named = {p.session_arg for p in procs if p.session_arg}
            for run in runs:
                named.update(run.sessions)
            into.update(self.store.briefs(named - into.keys()))
            parents = {s.parent_id for s in into.values() if s.parent_id} - into.keys()
            into.update(self.store.briefs(parents))
            return True
        except StoreError as exc:
            problems.append(Problem("database", str(exc)))
            self.index.reset()
            return False

    def process_runs(self, open_logs: Mapping[int, list[str]]) -> dict[int, list[LogRun]]:
        """The runs of the per-process log files (opencode 1.14) each process holds, read again
        only when a file grew; only the files held now are kept (and probed by the watcher)."""
        out: dict[int, list[LogRun]] = {}
        held = {path for paths in open_logs.values() for path in paths}
        self.process_logs = {k: v for k, v in self.process_logs.items() if k in held}
        for pid, paths in open_logs.items():
            for path in paths:
                try:
                    size = os.stat(path).st_size
                except OSError:
                    continue
                cached = self.process_logs.get(path)
                if cached is None or cached[0] != size:
                    run = read_process_log(path)
                    if run is None:
                        continue
                    cached = (size, run)
                    self.process_logs[path] = cached
                out.setdefault(pid, []).append(cached[1])
        return out

    def newest_prompts(self, ids: set[str], known: Mapping[str, SessionBrief]) -> dict[str, str]:
        """Newest prompts, read again only for sessions updated since (a new prompt moves the
        session's time_updated), so a pane left undecided costs no queries beat after beat."""

        def stamp(sid: str) -> float:
            s = known.get(sid)
            return s.updated_at if s else -1.0

        stale = {sid for sid in ids if self.prompts.get(sid, (None, ""))[0] != stamp(sid)}
        if stale:
            fresh = self.store.newest_prompts(stale)
            for sid in stale:
                self.prompts[sid] = (stamp(sid), fresh.get(sid, ""))
        self.prompts = {k: v for k, v in self.prompts.items() if k in known}
        return {sid: self.prompts[sid][1] for sid in ids if self.prompts[sid][1]}
