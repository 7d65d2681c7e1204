"""Serving: the event log, the in-process state, and the real server (uvicorn subprocess on a free loopback port):
auth, validation, every endpoint, metrics, restart replay, and a SIGKILL fault test that loses no acked event."""

from __future__ import annotations

import os
import shutil
import threading
import time

import httpx
import pytest


@pytest.fixture(scope="module")
def live(tmp_path_factory, world_root):
    """One real server for the HTTP tests of this module, over its own copy of the world: (sandbox, server).
    The fault test, last, kills it."""
    from pinsandbox.sandbox import Sandbox
    from pinsandbox.serving import start

    root = tmp_path_factory.mktemp("live")
    shutil.copytree(world_root, root / "world", symlinks=True)
    sb = Sandbox(root / "world")
    server = start(sb)
    yield sb, server
    server.stop()


def test_event_log_is_durable_and_ordered(tmp_path):
    from pinsandbox.serving import EventLog

    log = EventLog(tmp_path / "events.db")
    seqs = [log.append({"pinner_id": "u1", "pin_id": f"p{i}", "action": "save", "ts": "2025-04-01T00:00:00+00:00"})
            for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    log.close()
    again = EventLog(tmp_path / "events.db")  # a new process would see exactly this
    df = again.since(seqs[1])
    assert df["pin_id"].tolist() == ["p2", "p3", "p4"]
    assert str(df["ts"].dt.tz) == "UTC"
    assert again.last_seq() == seqs[-1]
    mode = again._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_state_homefeed_reacts_to_events_and_refuses_unknown_ids(world):
    from pinsandbox.errors import InvalidInput, NotFound
    from pinsandbox.serving import ServingState

    state = ServingState.load(world)
    assert state.taste_source.startswith("tastegraph/taste-graph@")  # started from the published snapshot
    pinner = state.catalog.train_events()["pinner_id"].value_counts().index[0]  # the most active pinner
    before = [p["pin_id"] for p in state.homefeed(pinner, 10)]
    assert len(before) == 10 and len(set(before)) == 10
    # a burst of saves in one far-away part of the catalog moves the feed
    target = state.similar(before[0], 5)
    for p in [before[0]] + [t["pin_id"] for t in target]:
        state.record_event({"pinner_id": pinner, "pin_id": p, "action": "save"})
    after = [p["pin_id"] for p in state.homefeed(pinner, 10)]
    assert after != before
    assert before[0] not in after  # saved pins are not shown again
    assert state.log.last_seq() == 6

    assert state.warm(limit=5) == 4  # the pinner above is already cached (and fresh: their event dropped it)
    assert state.health()["homefeeds_cached"] == 5

    sims = state.similar(before[0], 5)
    assert len(sims) == 5 and before[0] not in [s["pin_id"] for s in sims]
    assert sims[0]["score"] >= sims[-1]["score"]
    with pytest.raises(NotFound, match="no pin"):
        state.similar("nope", 5)
    with pytest.raises(NotFound, match="no pinner"):
        state.homefeed("nobody", 5)
    with pytest.raises(InvalidInput, match="k must be"):
        state.homefeed(pinner, 0)
    with pytest.raises(NotFound):  # refused before anything is logged
        state.record_event({"pinner_id": pinner, "pin_id": "nope", "action": "save"})
    assert state.log.last_seq() == 6


def test_state_navigator_respects_budget(world):
    from pinsandbox.serving import ServingState

    state = ServingState.load(world)
    out = state.navigator("a cosy scandinavian lamp for the bedroom", k=5, max_price=80)
    assert 1 <= len(out["pins"]) <= 5 and out["candidates"] >= len(out["pins"])
    assert all(p["price"] <= 80 for p in out["pins"])
    assert out["ranker"] == "swapped-vlm" and "vlm/navigator-lora@" in out["ranker_note"]  # the fine-tuned VLM ranks
    assert out["answer"].startswith(f"{len(out['pins'])} pins for")


@pytest.mark.slow
def test_navigator_worker_answers_and_refuses_beyond_its_queue(world):
    """The server's Navigator process: loaded once, answers like the in-process one, and a request beyond its
    queue is refused at once (the API's 503) instead of waiting without bound."""
    import asyncio

    from pinsandbox.serving.navigator import NavigatorBusy, NavigatorWorker

    worker = NavigatorWorker(world, queue=2)
    try:
        assert worker.name == "swapped-vlm"

        async def burst():
            return await asyncio.gather(*(worker.ask_async("boho planter", 3) for _ in range(4)), return_exceptions=True)

        out = asyncio.run(burst())
        assert [isinstance(o, NavigatorBusy) for o in out] == [False, False, True, True]
        assert all(len(o["pins"]) == 3 and o["ranker"] == "swapped-vlm" for o in out[:2])
        assert worker.ask("boho planter", 3)["pins"] == out[0]["pins"]  # same request, same answer
    finally:
        worker.close()


@pytest.mark.slow
def test_server_endpoints_auth_validation_metrics(live):
    _, server = live
    anon = httpx.Client(base_url=server.url, timeout=30)
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/pinners/u000000/homefeed").status_code == 401
    r = anon.get("/pins/p0000000/similar", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "token" in r.json()["detail"]

    c = server.client()
    pinner = c.get("/healthz").json() and "u000001"
    feed = c.get(f"/pinners/{pinner}/homefeed", params={"k": 5})
    assert feed.status_code == 200 and len(feed.json()["pins"]) == 5
    sim = c.get("/pins/p0000003/similar", params={"k": 4}).json()
    assert len(sim["pins"]) == 4
    ev = c.post("/events", json={"pinner_id": pinner, "pin_id": sim["pins"][0]["pin_id"], "action": "save"})
    assert ev.status_code == 201 and ev.json()["seq"] == 1
    nav = c.post("/navigator", json={"text": "boho planter", "k": 3})
    assert nav.status_code == 200 and len(nav.json()["pins"]) == 3 and nav.json()["answer"]

    assert c.get("/pinners/nobody/homefeed").status_code == 404
    r = c.get("/pins/nope/similar")
    assert r.status_code == 404 and "no pin 'nope'" in r.json()["detail"]
    assert c.post("/events", json={"pinner_id": pinner, "pin_id": "p0000003", "action": "like"}).status_code == 422
    assert c.post("/events", json={"pinner_id": pinner, "pin_id": "nope", "action": "save"}).status_code == 404
    assert c.post("/events", json={"pinner_id": "a b", "pin_id": "p0000003", "action": "save"}).status_code == 422
    bad_ts = c.post("/events", json={"pinner_id": pinner, "pin_id": "p0000003", "action": "save", "ts": "yesterday"})
    assert bad_ts.status_code == 422 and "ISO-8601" in bad_ts.json()["detail"]
    assert c.get(f"/pinners/{pinner}/homefeed", params={"k": 1000}).status_code == 422
    big = c.post("/navigator", content=b'{"text": "' + b"x" * 100_000 + b'"}', headers={"content-type": "application/json"})
    assert big.status_code == 413

    metrics = c.get("/metrics").text
    assert 'pinsandbox_requests_total{method="GET",route="/pinners/{pinner_id}/homefeed",status="200"} 1.0' in metrics
    assert 'pinsandbox_request_seconds_bucket{le="0.05",route="/pins/{pin_id}/similar"}' in metrics
    assert c.get("/healthz").json()["events_logged"] == 1


def _children(pid: int) -> list[int]:
    return [int(c) for t in os.listdir(f"/proc/{pid}/task") for c in open(f"/proc/{pid}/task/{t}/children").read().split()]


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_event(live):
    """Events stream in; the server is SIGKILLed mid-stream; after a restart every 2xx'd event is in the log and
    in the pinners' state (their saved pins leave their homefeeds)."""
    from pinsandbox.serving import EventLog, start

    world, server = live
    pins = [f"p{i:07d}" for i in range(0, 300, 3)]
    acked: list[tuple[int, str, str]] = []
    stop = threading.Event()

    def stream():
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=5) as c:
            i = 0
            while not stop.is_set():
                pinner, pin = f"fault-{i % 7}", pins[i % len(pins)]
                try:
                    r = c.post("/events", json={"pinner_id": pinner, "pin_id": pin, "action": "save"})
                except httpx.TransportError:
                    return  # the server is gone: whatever was not acknowledged may be lost
                if r.status_code == 201:
                    acked.append((r.json()["seq"], pinner, pin))
                i += 1

    threads = [threading.Thread(target=stream) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(server.process.pid)
    assert workers  # the Navigator worker process
    server.kill()  # SIGKILL: no shutdown hooks, no flush
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 60

    log = EventLog(world.path("serving/events.db"))
    seqs = set(log.since(0)["seq"])
    log.close()
    assert {s for s, _, _ in acked} <= seqs
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)  # the orphaned worker noticed and exited

    with start(world) as again:
        c = again.client()
        assert c.get("/healthz").json()["events_replayed_at_start"] == len(seqs)
        for pinner in {p for _, p, _ in acked}:
            saved = {pin for _, u, pin in acked if u == pinner}
            feed = c.get(f"/pinners/{pinner}/homefeed", params={"k": 50})
            assert feed.status_code == 200  # a newcomer known only through the log
            assert not saved & {p["pin_id"] for p in feed.json()["pins"]}


@pytest.mark.slow
def test_run_serving_measures_the_real_server_under_a_bounded_load(world):
    """The stage entry point: start, wait warm, a tiny load (3 clients, 2 s), stop; serving.* metrics and the
    published load test carry what a user checks."""
    from pinsandbox.errors import InvalidInput
    from pinsandbox.serving import ServingStageConfig, run_serving

    config = ServingStageConfig(clients=3, seconds=2, think_ms=20, seed=0)
    result = run_serving(world, config, progress=False)
    m = result.metrics
    assert m["serving.errors"] == 0 and m["serving.qps"] > 0 and m["serving.startup_s"] > 0
    assert 0 < m["serving.homefeed_p50_ms"] <= m["serving.homefeed_p99_ms"]
    assert "homefeed" in result.table.index and set(result.table.index) <= {"homefeed", "similar", "events", "navigator"}
    assert len(result.samples) == m["serving.requests"] == result.table["requests"].sum()
    assert result.samples["ok"].all()
    # the server started from the published snapshot, on the vectors that snapshot was fitted with
    assert result.health["warm"] and result.health["taste_graph"].startswith("tastegraph/taste-graph@")
    assert result.health["vectors"].startswith("embeddings/proprietary@")
    art = world.artifacts.read("serving", "load-test")
    assert result.artifacts == {"load-test": art.id} and art.config() == config
    assert result.health["taste_graph"] in art.manifest["inputs"]
    with pytest.raises(InvalidInput, match="clients must be at least 1"):
        run_serving(world, ServingStageConfig(clients=0), progress=False)


def test_serve_cli_refuses_bad_port_and_unknown_sandbox(world, capsys):
    import pinsandbox.cli

    assert pinsandbox.cli.main(["serve", "--sandbox", "nobody"]) == 2
    assert "no sandbox 'nobody'" in capsys.readouterr().err
    assert pinsandbox.cli.main(["serve", "--sandbox", "world", "--port", "70000"]) == 2
    assert "port must be" in capsys.readouterr().err
