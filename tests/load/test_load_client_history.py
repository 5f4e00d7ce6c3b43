"""The load's history lines: the models' own lines, and every attempt on disk before its request leaves."""

from __future__ import annotations

from pathlib import Path

import orjson

from harness.history import AttemptEnd, AttemptStart, HistoryWriter, OpEnd, OpStart, iter_file
from harness.load.client_history import ClientHistory


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_each_line_is_the_line_the_writer_writes_for_its_model(tmp_path: Path) -> None:
    """Same keys in the same order, ``None`` fields left out: the shape the checker reads fastest."""
    fast, models = tmp_path / "fast.jsonl", tmp_path / "models.jsonl"
    with HistoryWriter(fast) as writer:
        history = ClientHistory(writer)
        history.op_start("p-1", "charge", "k-1")
        history.op_start("p-2", "refund", None)
        history.attempt_start("p-1", 1)
        history.attempt_start("p-1", 2, twin_of=1)
        history.attempt_end("p-1", 1, "ok", 0.001234, status=201, resource_id="ch_1")
        history.attempt_end("p-1", 2, "info", 1.5, error="timed out after 1 s")
        history.op_end("p-1", "acknowledged", 2, status=201, resource_id="ch_1")
        history.op_end("p-2", "unknown", 0)
    written = lines(fast)
    with HistoryWriter(models) as writer:
        for line, model in zip(written, [OpStart, OpStart, AttemptStart, AttemptStart, AttemptEnd, AttemptEnd,
                                         OpEnd, OpEnd], strict=True):  # fmt: skip
            writer.append(model.model_validate(line))
    assert [list(line.items()) for line in written] == [list(line.items()) for line in lines(models)]
    assert [event.type for event in iter_file(fast)] == [
        "op_start",
        "op_start",
        "attempt_start",
        "attempt_start",
        "attempt_end",
        "attempt_end",
        "op_end",
        "op_end",
    ]


def test_an_attempt_start_is_on_disk_with_everything_before_it_before_its_request_leaves(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as writer:
        history = ClientHistory(writer)
        history.op_start("p-1", "charge", "k-1")
        history.attempt_start("p-1", 1)
        assert [line["type"] for line in lines(path)] == ["op_start", "attempt_start"]
        history.attempt_end("p-1", 1, "ok", 0.01, status=201, resource_id="ch_1")
        history.op_end("p-1", "acknowledged", 1, status=201, resource_id="ch_1")
    assert [line["type"] for line in lines(path)] == ["op_start", "attempt_start", "attempt_end", "op_end"]


class FakeClock:
    """Monotonic seconds the test moves by hand (no sleeps)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_buffered_ends_reach_the_disk_once_the_last_flush_is_older_than_the_bound(tmp_path: Path) -> None:
    """The running cell's watch reads the file every 0.5 s: ends must not wait for a start that is late."""
    path, clock = tmp_path / "history.jsonl", FakeClock()
    with HistoryWriter(path) as writer:
        history = ClientHistory(writer, flush_after_s=0.2, clock=clock)
        history.op_start("p-1", "charge", "k-1")
        history.attempt_start("p-1", 1)
        clock.now += 0.1
        history.attempt_end("p-1", 1, "ok", 0.1, status=201)
        assert [line["type"] for line in lines(path)] == ["op_start", "attempt_start"]  # within the bound
        clock.now += 0.15
        history.op_end("p-1", "acknowledged", 1, status=201)  # 0.25 s after the last flush
        written = [line["type"] for line in lines(path)]
        assert written == ["op_start", "attempt_start", "attempt_end", "op_end"]
        history.op_start("p-2", "charge", "k-2")  # the bound counts from that flush: buffered again
        assert len(lines(path)) == 4


def test_flush_if_due_puts_a_quiet_tail_on_disk_without_another_line(tmp_path: Path) -> None:
    path, clock = tmp_path / "history.jsonl", FakeClock()
    with HistoryWriter(path) as writer:
        history = ClientHistory(writer, flush_after_s=0.2, clock=clock)
        history.attempt_start("p-1", 1)
        history.attempt_end("p-1", 1, "ok", 0.01, status=201)
        history.flush_if_due()
        assert [line["type"] for line in lines(path)] == ["attempt_start"]  # not yet due
        clock.now += 0.3
        history.flush_if_due()
        assert [line["type"] for line in lines(path)] == ["attempt_start", "attempt_end"]
