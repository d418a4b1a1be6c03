"""Pure: which shared-log run each opencode process wrote, where start times and directories
leave no doubt (1.18 writes one log for every process, a run per process, no pid)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from otop.core.model import LogRun, Proc

# A run's first log line comes 2-5 s after its process starts (measured with 1.18.33, up to
# 4.5 s on a loaded machine); allow more, and a second before for the coarse process clock.
RUN_START_WINDOW = (-1.0, 30.0)
# Until its own run has surely begun, a process may be matched with another's run (one that
# died moments before it started): its runs are contested, never accepted, for this long.
RUN_SETTLE = 8.0


def proc_dir(p: Proc) -> str | None:
    return p.dir_arg or p.cwd


def _fits(p: Proc, r: LogRun) -> bool:
    lo, hi = RUN_START_WINDOW
    d = proc_dir(p)
    return (
        r.directory is not None
        and (r.directory == d or r.directory == p.cwd)
        and lo <= r.started_at - p.started_at <= hi
    )


def match_runs(procs: Sequence[Proc], runs: Sequence[LogRun], now: float) -> dict[int, LogRun]:
    """Pair processes with shared-log runs by directory and start time, keeping only pairs that
    every maximum matching agrees on: two runs that either of two processes could have written
    (TUIs started together, in either order) give neither process a run."""
    edges = {p.pid: [r.run_id for r in runs if _fits(p, r)] for p in procs}
    edges = {pid: rs for pid, rs in edges.items() if rs}
    young = {p.pid for p in procs if now - p.started_at < RUN_SETTLE}
    by_id = {r.run_id: r for r in runs}
    out: dict[int, LogRun] = {}
    for group in _components(edges):
        for pid, rid in _forced(group, edges).items():
            if pid not in young:
                out[pid] = by_id[rid]
    return out


def _components(edges: Mapping[int, list[str]]) -> list[list[int]]:
    """Processes that share candidate runs, transitively, in groups."""
    groups: list[tuple[set[int], set[str]]] = []
    for pid, rids in edges.items():
        hit = [g for g in groups if g[1] & set(rids)]
        pids, rs = {pid}, set(rids)
        for g in hit:
            pids |= g[0]
            rs |= g[1]
            groups.remove(g)
        groups.append((pids, rs))
    return [sorted(g[0]) for g in groups]


def _forced(pids: list[int], edges: Mapping[int, list[str]], cap: int = 2000) -> dict[int, str]:
    """The process-run pairs present in every maximum matching of a small bipartite graph."""
    best: list[dict[int, str]] = []
    size = 0
    count = 0

    def walk(i: int, used: frozenset[str], cur: dict[int, str]) -> None:
        nonlocal size, count
        count += 1
        if count > cap:
            return
        if i == len(pids):
            if len(cur) > size:
                size, best[:] = len(cur), [dict(cur)]
            elif len(cur) == size and cur:
                best.append(dict(cur))
            return
        pid = pids[i]
        for rid in edges[pid]:
            if rid not in used:
                cur[pid] = rid
                walk(i + 1, used | {rid}, cur)
                del cur[pid]
        walk(i + 1, used, cur)

    walk(0, frozenset(), {})
    if count > cap or not best:
        return {}
    first = best[0]
    return {pid: rid for pid, rid in first.items() if all(m.get(pid) == rid for m in best)}
