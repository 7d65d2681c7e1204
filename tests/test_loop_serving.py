"""Serving follows the loop (#18): a promotion or rollback is picked up by a running server without a restart —
built off the request path, swapped in one assignment, with the events logged meanwhile carried over."""

from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest

from pinsandbox.catalog import advance_catalog, load_catalog
from pinsandbox.loop import RetrainConfig, promote, rollback, run_retrain

FAST = dict(n_boot=300, latency_pinners=30, promote=False)


def served(health: dict, champion: dict) -> dict:
    """What /healthz says is served, for the roles of `champion` (health also names the Navigator's model)."""
    return {role: health["champion"].get(role) for role in champion}


def _challenger(world):
    """A week of new data and a gated challenger (refreshed vectors, refit taste graph) beside the champion;
    returns the pins the week published (the champion's catalog does not have them) and the retrain's result."""
    old = set(load_catalog(world).pins["pin_id"])
    advance_catalog(world, 7, progress=False)
    result = run_retrain(world, RetrainConfig(**FAST), progress=False)
    return sorted(set(load_catalog(world).pins["pin_id"]) - old), result


def test_swap_serves_the_new_champion_with_every_logged_event(world):
    from pinsandbox.errors import NotFound
    from pinsandbox.serving import ServingState

    state = ServingState.load(world)
    first = dict(state.champion.ids)
    pinner = state.catalog.train_events()["pinner_id"].iloc[0]
    pins = state.catalog.pins["pin_id"].tolist()
    state.record_event({"pinner_id": "newcomer-1", "pin_id": pins[0], "action": "save"})
    new_pins, _ = _challenger(world)
    assert new_pins
    with pytest.raises(NotFound, match="no pin"):
        state.similar(new_pins[0], 5)  # not served before the swap
    entry = promote(world, force=True)  # forced: this test is about the swap, not the gate
    old = state.champion
    state.record_event({"pinner_id": "newcomer-2", "pin_id": pins[1], "action": "save"})  # after promotion, before swap
    swapped = state.swap()
    assert swapped["from"] == first and swapped["to"] == state.champion.ids
    assert state.champion.ids == entry["champion_after"] and state.champion is not old
    assert state.vectors_id == entry["champion_after"]["vectors"]
    assert len(state.similar(new_pins[0], 5)) == 5  # the new catalog's pins are served now
    # both logged events were replayed into the new champion: newcomers keep their profiles
    assert state.champion.applied_seq == state.log.last_seq() == 2
    assert len(state.homefeed("newcomer-1", 5)) == len(state.homefeed("newcomer-2", 5)) == 5
    assert len(state.homefeed(pinner, 10)) == 10
    health = state.health()
    assert served(health, entry["champion_after"]) == entry["champion_after"] and health["champion_swaps"] == 1
    # an unchanged sandbox: the watcher would not swap; swapping anyway rebuilds the same champion
    assert state.swap()["to"] == entry["champion_after"]


def test_rollback_revives_the_champion_served_before_exactly_as_a_fresh_load_serves_it(world):
    """A rollback republishes the archived files under new ids: the server recognises their content and serves
    the model it still holds, caught up with the events logged meanwhile, instead of rebuilding it."""
    from pinsandbox.serving import ServingState

    state = ServingState.load(world)
    before = state.champion
    pins = state.catalog.pins["pin_id"].tolist()
    pinners = state.catalog.train_events()["pinner_id"].drop_duplicates().head(25).tolist()
    _challenger(world)
    promote(world, force=True)
    assert not state.swap()["revived"]  # a champion never served: built from its files
    for i, pinner in enumerate(pinners[:5]):  # logged while the promoted champion serves
        state.record_event({"pinner_id": pinner, "pin_id": pins[i], "action": "save"})
    entry = rollback(world)
    swapped = state.swap()
    assert swapped["revived"] and state.champion.taste is before.taste
    assert state.champion.ids == entry["champion_after"] != before.ids
    fresh = ServingState.load(world)  # what a restart would serve
    assert fresh.champion.ids == state.champion.ids and fresh.champion.applied_seq == state.champion.applied_seq
    for pinner in pinners:
        assert [p["pin_id"] for p in state.homefeed(pinner, 10)] == [p["pin_id"] for p in fresh.homefeed(pinner, 10)]


@pytest.mark.slow
def test_running_server_follows_the_loop_under_load(world):
    """The real server on 127.0.0.1, one turn of the loop beside it (the feedback check and the swaps share one
    server and one retrain: each costs a start and a refit).

    Feedback: POST /events → the retrain trains on them (validated, deduplicated, re-timed onto the world's clock)
    → the promoted champion holds them, so neither the swapped-in champion nor a restart replays one twice.
    Swaps: under 16 concurrent clients (closed loop) the promotion and then a rollback land while it serves; every
    request succeeds, and /healthz reports the new champion within 5 s of each."""
    from pinsandbox.loop.swap import swap_under_load
    from pinsandbox.serving import EventLog, ServingState, start

    catalog = load_catalog(world)
    pinners = catalog.train_events()["pinner_id"].unique()
    pins = catalog.pins["pin_id"].to_numpy()  # pins of both catalogs: the load never asks for a pin one lacks
    saved = list(pins[10:16])
    past = str(catalog.cutoff - pd.Timedelta(days=1))
    with start(world) as server:
        server.wait_warm(120)
        with server.client() as c:
            champion0 = c.get("/healthz").json()["champion"]
            for pin in saved:  # a newcomer the catalog has never seen, stamped by the server's wall clock
                assert c.post("/events", json={"pinner_id": "fb-newcomer", "pin_id": pin, "action": "save"}).status_code == 201
            retry = {"pinner_id": "fb-old", "pin_id": pins[3], "action": "click", "ts": past}
            assert c.post("/events", json=retry).status_code == 201
            assert c.post("/events", json=retry).status_code == 201  # a client's retry: logged twice, trained on once
            assert c.post("/events", json={**retry, "pin_id": "nope"}).status_code == 404  # refused at the door
        log = EventLog(world.path("serving/events.db"))  # an event accepted against an earlier catalog
        log.append({"pinner_id": "fb-old", "pin_id": "p-gone", "action": "save", "ts": past})
        log.close()

        new_pins, result = _challenger(world)
        m = result.metrics
        assert (m["retrain.logged_events_used"], m["retrain.logged_events_dropped"],
                m["retrain.logged_events_retimed"]) == (7, 2, 6)
        assert result.verdict["event_log_seq"] == 9
        challenger, cutoff = result.challenger, load_catalog(world).cutoff
        assert "fb-newcomer" in challenger.states and "fb-newcomer" not in catalog.events["pinner_id"].values
        assert not set(saved) & set(challenger.recommend("fb-newcomer", 20))  # saved pins count as seen
        events = challenger.events
        assert len(events[(events["pinner_id"] == "fb-old") & (events["pin_id"] == pins[3])]) == 1
        assert (events["ts"] < cutoff).all()  # nothing logged lands in the gate's window

        up = swap_under_load(server, lambda: promote(world, force=True), pinners, pins, seed=0)
        assert world.artifacts.read("tastegraph", "taste-graph").manifest["event_log_seq"] == 9
        with server.client() as c:
            health = c.get("/healthz").json()
            similar = c.get(f"/pins/{new_pins[0]}/similar", params={"k": 5})
            assert c.get("/pinners/fb-newcomer/homefeed").status_code == 200
        assert up["failed"] == 0 and up["requests_after_action"] >= 1000, up
        assert up["visible_s"] is not None and up["visible_s"] <= 5, up
        assert served(health, up["champion"]) == up["champion"] != served({"champion": champion0}, up["champion"])
        assert health["champion_swaps"] == 1
        assert similar.status_code == 200 and similar.json()["vectors"] == up["champion"]["vectors"]
        # the 9 feedback events and the load's, none lost in the swap
        assert health["events_applied"] == health["events_logged"] > 9
        # Navigator follows too, in a worker process of its own: the promotion changed the vectors it ranks with
        with server.client() as c:
            for _ in range(240):
                navigator = c.get("/healthz").json()["navigator"]
                if navigator["navigator_vectors"] == up["champion"]["vectors"]:
                    break
                time.sleep(0.5)
            assert navigator["navigator_vectors"] == up["champion"]["vectors"], navigator
            assert c.get("/healthz").json()["navigator_swaps"] == 1
            answer = c.post("/navigator", json={"text": "a lamp", "k": 3})
        assert answer.status_code == 200 and len(answer.json()["pins"]) == 3

        # a restart now loads the promoted snapshot (it holds the first 9) and replays only the load's events
        again = ServingState.load(world)
        assert again.replayed == again.log.last_seq() - 9 == health["events_logged"] - 9
        feed = again.homefeed("fb-newcomer", 20)
        assert len(feed) == 20 and not set(saved) & {p["pin_id"] for p in feed}
        again.log.close()

        down = swap_under_load(server, lambda: rollback(world), pinners, pins, seed=1)
        with server.client() as c:
            health = c.get("/healthz").json()
            gone = c.get(f"/pins/{new_pins[0]}/similar", params={"k": 5})
        assert down["failed"] == 0 and down["requests_after_action"] >= 1000, down
        assert down["visible_s"] is not None and down["visible_s"] <= 5, down
        assert health["champion_swaps"] == 2 and health["events_applied"] == health["events_logged"]
        assert health["last_swap"]["revived"]  # the first champion, still in memory: caught up, not rebuilt
        # rebuilt (a restart), it replays the whole log but the save on p-gone, a pin its catalog lacks: skipped,
        # not fatal (the load would otherwise never finish)
        again = ServingState.load(world)
        assert again.champion.skipped == 1 and served(health, again.champion.ids) == again.champion.ids
        again.log.close()
        # the rolled-back champion is the first one's files again (a new version of them): its vectors predate the
        # week's new pins
        assert gone.status_code == 404 and "has no vector" in gone.json()["detail"]
        assert served(health, down["champion"]) == down["champion"] != up["champion"]
    assert server.process.returncode is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=1)


def test_navigator_after_an_advance_ranks_only_pins_with_vectors(world):
    """After `data advance` and before the next retrain, the catalog has pins the fine-tuned Navigator has no vector
    for: they are left out of its candidates rather than failing the request."""
    from pinsandbox.serving.navigator import Navigator

    old = set(load_catalog(world).pins["pin_id"])
    advance_catalog(world, 7, progress=False)
    new = set(load_catalog(world).pins["pin_id"]) - old
    assert new
    navigator = Navigator.load(world, replies=False)
    assert navigator.name == "swapped-vlm"
    assert set(navigator.pin_ids) == old  # every new pin left out, every old one kept
    for text in ("a cozy lamp", "mid-century chair under $200", "something for the garden"):
        out = navigator.ask(text, k=5)
        assert out["pins"] and not {p["pin_id"] for p in out["pins"]} & new
