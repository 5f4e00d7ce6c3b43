"""The nemesis collects the per-request decisions of each saga hop's proxy too, tagged with the link."""

from __future__ import annotations

from pathlib import Path

from nemesis_fakes import FakeClient, FakeTarget, plan

from harness.faults import ToxicCall
from harness.history import HistoryWriter, ToxicHit, parse_event, read_history
from harness.nemesis import Nemesis
from harness.proxy.decisions import ToxicDecision


def test_a_hops_decisions_go_into_the_history_tagged_with_its_link_and_saga(tmp_path: Path) -> None:
    client = FakeClient(
        (ToxicDecision(10.5, "late", None, "delay", "700 ms", saga_id="saga_1", path="/charge"),)
    )
    hop = ToxicCall(name="late", type="http_latency", stream="upstream", toxicity=0.3, link="payments")
    store = ToxicCall(name="db_latency", type="latency", stream="downstream", toxicity=1.0)
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        hops = [("p--hop-payments", hop), ("db", store)]
        with Nemesis(plan(), client, "p", FakeTarget(), history, hops):
            pass
    # the client proxy has no per-request toxic, the store's is a TCP one: only the hop is asked
    assert [call for call in client.calls if call[0] == "decisions"] == [("decisions", "p--hop-payments")]
    [hit] = [e for e in read_history([tmp_path / "f.jsonl"]) if isinstance(e, ToxicHit)]
    assert (hit.proxy, hit.link, hit.toxic, hit.saga_id, hit.path, hit.op_id, hit.detail) == (
        "p--hop-payments",
        "payments",
        "late",
        "saga_1",
        "/charge",
        None,
        "700 ms",
    )


def test_the_client_proxys_decisions_are_tagged_client(tmp_path: Path) -> None:
    client = FakeClient((ToxicDecision(1.0, "drop", "op-1", "reset"),))
    toxic = ToxicCall(name="drop", type="drop_response", stream="downstream", toxicity=0.5)
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(toxics=(toxic,)), client, "p", FakeTarget(), history):
            pass
    [hit] = [e for e in read_history([tmp_path / "f.jsonl"]) if isinstance(e, ToxicHit)]
    assert (hit.proxy, hit.link, hit.op_id, hit.saga_id) == ("p", "client", "op-1", None)


def test_a_toxic_hit_written_before_links_reads_as_the_clients() -> None:
    old = '{"t": 1.0, "type": "toxic_hit", "proxy": "p", "toxic": "drop", "op_id": "op-1", "action": "reset"}'
    hit = parse_event(old)
    assert isinstance(hit, ToxicHit)
    assert (hit.link, hit.saga_id, hit.path) == ("client", None, "")
