"""Checking a cell's files as streamed records gives the very verdict of parsing them into pydantic events.

The reference is the path every caller had before streaming: :func:`harness.history.read_history`
(each line validated into its pydantic model, every file merged into one list sorted by time) and
:func:`harness.checker.check` on that list. The streamed path is :func:`harness.checker.scan_files`
then :func:`harness.checker.judge`, as :func:`harness.cell.check_cell` runs it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import records
from harness.checker import check, judge, scan_files
from harness.errors import HistoryError
from harness.history import read_history
from harness.records import OutOfOrder, read_records
from tests.checker.history_cells import write_cell, write_new_cell


# use_true_random: a seeded Random per example. Hypothesis's own Random makes every call a recorded
# draw, so a cell of many operations ran out of draws and was thrown away (a fifth of them) after the
# work of drawing it; this way each of the 2,000 cells is checked, the largest included, in a quarter
# of the time. A failure still names its seed, so it replays.
@settings(max_examples=2000, deadline=None)
@given(st.randoms(use_true_random=True))
def test_streamed_check_gives_the_verdict_of_the_pydantic_path(cells_folder: Path, rng: Random) -> None:
    cell = write_new_cell(rng, cells_folder)

    reference = check(
        read_history(cell.paths),
        cell.effects,
        variant="v",
        fault="f",
        context_s=cell.context_s,
        expect=cell.expect,
    )
    streamed = judge(
        scan_files(cell.paths, cell.effects, cell.context_s, cell.expect), variant="v", fault="f"
    )

    assert streamed == reference
    assert [anomaly.explanation for anomaly in streamed.anomalies] == [
        anomaly.explanation for anomaly in reference.anomalies
    ]
    assert list(streamed.answers) == list(reference.answers)  # the same order, ties included
    assert list(streamed.final_outcomes) == list(reference.final_outcomes)


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


START = '{"t": 1.0, "type": "op_start", "op_id": "op1"}'


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ("not json at all", "line 2: not a history event: line: Invalid JSON"),
        (
            '{"t": 2.0, "type": "op_end", "op_id": "op1"}',
            "line 2: not a history event: op_end.outcome: Field required",
        ),
        (
            '{"t": 2.0, "type": "op_start", "op_id": "op1", "colour": "red"}',
            "line 2: not a history event: op_start.colour: Extra inputs are not permitted",
        ),
        (
            '{"t": "soon", "type": "op_start", "op_id": "op2"}',
            "line 2: not a history event: op_start.t: Input should",
        ),
        ('{"t": 2.0, "type": "launch"}', "line 2: not a history event: line: Input tag 'launch'"),
    ],
)
def test_a_line_that_is_no_event_is_refused_naming_file_and_line(
    tmp_path: Path, bad_line: str, problem: str
) -> None:
    path = _write(tmp_path / "history.jsonl", START, bad_line)

    with pytest.raises(HistoryError) as raised:
        scan_files([path], [])

    assert str(raised.value).startswith(f"{path}, {problem}")
    assert raised.value.line == 2


def test_a_line_the_fast_path_does_not_know_is_read_as_the_pydantic_model_reads_it(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "history.jsonl",
        START,
        '{"t": 2, "type": "attempt_start", "op_id": "op1", "attempt": 1.0}',
        '{"t": 3, "type": "attempt_end", "op_id": "op1", "attempt": 1, "outcome": "ok", "status": "201"}',
    )

    evidence = scan_files([path], [])

    (answer,) = evidence.ops["op1"].attempt_ends
    assert (answer.t, answer.attempt, answer.status) == (3.0, 1, 201)
    assert evidence.ops["op1"].started_at == {1: 2.0}


def test_a_fault_line_only_the_pydantic_model_reads_is_set_aside_once(tmp_path: Path) -> None:
    # orjson refuses Infinity, pydantic reads it: the slow path sets the event aside, once
    path = _write(
        tmp_path / "faults.jsonl",
        '{"t": 1.5, "type": "crash", "reason": "kill", "detail": "", "planned_s": Infinity}',
    )

    history = read_records([path])
    assert list(history.client) == []

    assert history.fault_side == read_history([path])
    assert len(history.fault_side) == 1


def test_client_files_merge_by_time_with_ties_in_file_order(tmp_path: Path) -> None:
    first = _write(
        tmp_path / "history.jsonl",
        START,
        '{"t": 2.0, "type": "attempt_start", "op_id": "op1", "attempt": 1}',
    )
    second = _write(
        tmp_path / "history.w1.jsonl",
        '{"t": 0.5, "type": "op_start", "op_id": "op2"}',
        '{"t": 2.0, "type": "attempt_start", "op_id": "op2", "attempt": 1}',
    )

    records = [(record.t, record.op_id) for record in read_records([first, second]).client]

    assert records == [(0.5, "op2"), (1.0, "op1"), (2.0, "op1"), (2.0, "op2")]


def test_a_file_out_of_time_order_is_reported_then_sorted_on_request(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "history.jsonl",
        '{"t": 2.0, "type": "attempt_start", "op_id": "op1", "attempt": 1}',
        START,
    )

    with pytest.raises(OutOfOrder):
        list(read_records([path]).client)
    assert [record.t for record in read_records([path], sort_all=True).client] == [1.0, 2.0]
    assert scan_files([path], []).ops["op1"].attempt_starts == 1  # in time order, the op began first


def _read_all(paths: list[Path]) -> tuple[object, object]:
    """The client records and fault-side events of ``paths``, as a stream and sorted whole (the stream
    "out of order" when a file is)."""
    try:
        streamed = read_records(paths)
        stream: object = (list(streamed.client), streamed.fault_side)
    except OutOfOrder:
        stream = "out of order"
    whole = read_records(paths, sort_all=True)
    return stream, (list(whole.client), whole.fault_side)


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=400))
def test_chunks_cut_anywhere_give_the_records_of_one_whole_read(rng: Random, chunk_bytes: int) -> None:
    # the cells here are far smaller than a chunk: cut them into small ones, at random lengths
    folder = Path(tempfile.mkdtemp(prefix="chunks"))
    cell = write_cell(rng, folder)
    expected = _read_all(cell.paths)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "CHUNK_BYTES", chunk_bytes)
        assert _read_all(cell.paths) == expected
    shutil.rmtree(folder)
