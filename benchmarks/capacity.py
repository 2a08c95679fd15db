"""Server capacity without browsers: how many new reviews per second one Streamlit server sustains.

    python benchmarks/capacity.py [--rates 0.5,1,2,3,4,6] [--stage-seconds 20] [--words 100] [--cpus 0,1]
    python benchmarks/capacity.py --burst 30 [--words 100]     # a class pressing Explore at the same moment

Each virtual visitor speaks Streamlit's own browser protocol over the
``/_stcore/stream`` websocket: it opens the Explorer (a first run, as a page
load does), then submits new reviews through the review form (the text area's
value and the submit button's trigger, as the browser sends them) and waits for
the run to finish. A review's latency runs from its scheduled send to the
server's "script finished"; its P(positive) on screen must equal the model's own
verdict, or the review counts as failed.

The offered load ramps up in stages (open loop: reviews are sent on a fixed
schedule whether or not earlier ones finished, each to an idle visitor of a
pool; a review waiting for a free visitor is waiting on the server). A stage
is sustained when every review finished with the right verdict and the p95
latency is within the target (2 s). The answer is the highest sustained rate.
Two warm-up reviews (first model use, chart code) are not counted. The server is pinned to ``--cpus``
(default: two cores) when the machine has them.

``--burst N``: N sessions open the Explorer, then all submit a different new review at the same moment; each
latency runs from that moment to its run's end, every verdict must be right, and the burst passes when the
p95 is within ``--burst-target`` (5 s).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import ROOT, streamlit_server
from benchmarks.load_test import make_review
from gru_core import load_model
from gru_core.experiment import hardware


class Visitor:
    """One browser session on the Explorer, driven over the websocket."""

    def __init__(self, ws):
        self.ws = ws
        self.review_id = ""
        self.submit_id = ""

    @classmethod
    async def open(cls, url: str) -> Visitor:
        import websockets

        ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, origin=url)
        v = cls(ws)
        await v._run(query_string="model=gru")
        if not (v.review_id and v.submit_id):
            raise RuntimeError("the Explorer's review form was not found in the first run")
        return v

    async def review(self, text: str) -> str:
        """Submit ``text`` through the review form; the P(positive) the page then shows."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        return await self._run(query_string="model=gru", widgets=[
            WidgetState(id=self.review_id, string_value=text), WidgetState(id=self.submit_id, trigger_value=True)])

    async def _run(self, query_string: str, widgets: list | None = None) -> str:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = query_string
        msg.rerun_script.widget_states.widgets.extend(widgets or [])
        await self.ws.send(msg.SerializeToString())
        proba = ""
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                what = el.WhichOneof("type")
                if what == "exception":
                    raise RuntimeError(f"the app raised {el.exception.type}: {el.exception.message}")
                if what == "metric" and el.metric.label == "P(positive)":
                    proba = el.metric.body
                elif what == "text_area" and el.text_area.label == "Review":
                    self.review_id = el.text_area.id
                elif what == "button" and el.button.is_form_submitter:
                    self.submit_id = el.button.id
            elif kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    return proba
                if fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    raise RuntimeError(f"the run ended with {fwd.script_finished}")

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class Stage:
    rate: float
    offered: int
    server_cpu_s: float = 0.0  # CPU time the server process used during the stage
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return float(np.percentile(self.latencies, 50)) if self.latencies else float("inf")

    @property
    def p95(self) -> float:
        return float(np.percentile(self.latencies, 95)) if self.latencies else float("inf")

    def sustained(self, target: float) -> bool:
        return not self.failures and len(self.latencies) == self.offered and self.p95 <= target


async def run_stage(pool: asyncio.Queue, rate: float, reviews: list[tuple[str, str]]) -> Stage:
    """Offer ``reviews`` at ``rate`` per second, open loop; latency counts from each scheduled send."""
    stage = Stage(rate, len(reviews))
    start = time.perf_counter()

    async def one(k: int, text: str, expected: str) -> None:
        await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
        scheduled = start + k / rate
        visitor = await pool.get()  # waiting for a free visitor counts: the server is behind
        try:
            shown = await visitor.review(text)
            if shown != expected:
                stage.failures.append(f"review {k}: P(positive) {shown!r} shown, the model says {expected}")
            else:
                stage.latencies.append(time.perf_counter() - scheduled)
        except Exception as e:  # noqa: BLE001  (a broken run is a failed review, reported in the table)
            stage.failures.append(f"review {k}: {e}")
        finally:
            pool.put_nowait(visitor)

    tasks = [asyncio.ensure_future(one(k, t, e)) for k, (t, e) in enumerate(reviews)]
    _, pending = await asyncio.wait(tasks, timeout=len(reviews) / rate + 60)
    for t in pending:
        t.cancel()
    stage.failures += ["not finished in time"] * len(pending)
    return stage


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all its threads (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> str:
    """Pin every thread of ``pid`` (threads started later inherit it) to ``cpus`` when the machine has them."""
    if not cpus <= os.sched_getaffinity(0):
        return f"not pinned ({os.cpu_count()} cores here)"
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)
    return f"pinned to cores {sorted(cpus)}"


async def ramp(url: str, pid: int, rates: list[float], seconds: float, words: int, visitors: int, target: float) -> list[Stage]:
    model = load_model(ROOT / "models" / "gru")
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(visitors):
        pool.put_nowait(await Visitor.open(url))
    warm = pool.get_nowait()
    for k in range(2):
        await warm.review(make_review(k, n=words, seed=8)[0])
    pool.put_nowait(warm)
    stages, n = [], 0
    try:
        for rate in rates:
            count = max(2, round(rate * seconds))
            texts = [make_review(100_000 + n + k, n=words, seed=7)[0] for k in range(count)]
            n += count
            reviews = [(t, f"{model.trace(t).proba:.3f}") for t in texts]
            cpu0 = cpu_seconds(pid)
            stage = await run_stage(pool, rate, reviews)
            stage.server_cpu_s = cpu_seconds(pid) - cpu0
            stages.append(stage)
            print(f"{rate:>6.2f}/s  {stage.offered:>4} reviews  p50 {stage.p50:6.2f} s  p95 {stage.p95:6.2f} s  "
                  f"server CPU {stage.server_cpu_s / stage.offered:5.2f} s/review  "
                  f"failed {len(stage.failures):>3}  {'sustained' if stage.sustained(target) else 'NOT sustained'}",
                  flush=True)
            if not stage.sustained(target):
                break
            await asyncio.sleep(target)  # let the queue drain before the next stage
    finally:
        while not pool.empty():
            await pool.get_nowait().close()
    return stages


async def burst(url: str, pid: int, n: int, words: int) -> Stage:
    """``n`` sessions submit a new review each at the same moment (after opening the page and one warm-up
    review of their own, as a class that has the page open would)."""
    model = load_model(ROOT / "models" / "gru")
    visitors = [await Visitor.open(url) for _ in range(n)]
    await visitors[0].review(make_review(0, n=words, seed=8)[0])  # first model use and chart code
    texts = [make_review(200_000 + k, n=words, seed=9)[0] for k in range(n)]
    expected = [f"{model.trace(t).proba:.3f}" for t in texts]
    stage = Stage(rate=float("inf"), offered=n)
    try:
        cpu0, start = cpu_seconds(pid), time.perf_counter()

        async def one(k: int) -> None:
            try:
                shown = await visitors[k].review(texts[k])
                if shown != expected[k]:
                    stage.failures.append(f"review {k}: P(positive) {shown!r} shown, the model says {expected[k]}")
                else:
                    stage.latencies.append(time.perf_counter() - start)
            except Exception as e:  # noqa: BLE001  (a broken run is a failed review, reported)
                stage.failures.append(f"review {k}: {e}")

        await asyncio.wait_for(asyncio.gather(*(one(k) for k in range(n))), timeout=300)
        stage.server_cpu_s = cpu_seconds(pid) - cpu0
    finally:
        for v in visitors:
            await v.close()
    return stage


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="0.5,1,2,3,4,6,8", help="offered reviews per second, in order")
    p.add_argument("--stage-seconds", type=float, default=20.0)
    p.add_argument("--words", type=int, default=100, help="words per review (IMDB's median is 174)")
    p.add_argument("--visitors", type=int, default=16, help="browser sessions kept open")
    p.add_argument("--target", type=float, default=2.0, help="p95 latency target, seconds")
    p.add_argument("--cpus", default="0,1", help="cores the server may use")
    p.add_argument("--burst", type=int, default=0, help="instead of the ramp: this many sessions submit at once")
    p.add_argument("--burst-target", type=float, default=5.0, help="p95 latency target of the burst, seconds")
    p.add_argument("--app-root", type=Path, default=ROOT, help="serve the app of another checkout (an older commit)")
    a = p.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    with streamlit_server(ROOT / "test-artifacts" / "capacity-streamlit.log", root=a.app_root) as (url, proc):
        pinned = pin(proc.pid, {int(c) for c in a.cpus.split(",")})
        print(f"Server {url} ({a.app_root}), {pinned}; {hardware()}; load average before {os.getloadavg()[0]:.1f}")
        if a.burst:
            print(f"{a.burst} websocket sessions submit a new {a.words}-word review each at the same moment")
            s = asyncio.run(burst(url, proc.pid, a.burst, a.words))
            ok = not s.failures and len(s.latencies) == s.offered and s.p95 <= a.burst_target
            print(f"burst of {s.offered}: p50 {s.p50:.2f} s, p95 {s.p95:.2f} s, last {max(s.latencies, default=0):.2f} s, "
                  f"server CPU {s.server_cpu_s / s.offered:.2f} s/review, failed {len(s.failures)}: "
                  + ("passed" if ok else "NOT passed") + f" (p95 ≤ {a.burst_target:g} s, every verdict right)")
            for f in s.failures[:5]:
                print("  " + f)
            return
        print(f"{a.visitors} websocket sessions, {a.words}-word new reviews, {a.stage_seconds:g} s per stage")
        stages = asyncio.run(ramp(url, proc.pid, rates, a.stage_seconds, a.words, a.visitors, a.target))
    ok = [s.rate for s in stages if s.sustained(a.target)]
    for s in stages:
        for f in s.failures[:3]:
            print(f"  at {s.rate}/s: {f}")
    print(f"Sustained: {max(ok):g} new reviews per second at p95 ≤ {a.target:g} s" if ok else
          f"No offered rate was sustained at p95 ≤ {a.target:g} s")


if __name__ == "__main__":
    main()
