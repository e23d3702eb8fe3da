"""A replay's re-check run ahead in a forked process: its verdicts are used as they are,
and whatever it cannot answer is checked in the replay's own process."""

import os
from multiprocessing.connection import Pipe
from typing import Any

import pytest

from consumers.prechecked import PrecheckedGuard, Verdict
from govpub.errors import ComplianceRefusal
from schemas import AnyEvent, encode_event, parse_event
from tests import factories


def child_answering(chunks: list[list[tuple[str, Verdict]]], *, then_end: bool) -> PrecheckedGuard:
    """A guard whose forked child sends ``chunks`` (and the end, or just dies)."""
    checked_here: list[str] = []

    def fallback(event: AnyEvent) -> AnyEvent:
        checked_here.append(event.event_id)
        return event

    answers, questions = Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:
        answers.close()
        for chunk in chunks:
            questions.send(chunk)
        if then_end:
            questions.send([])
        questions.close()
        os._exit(0)
    questions.close()
    guard = PrecheckedGuard(fallback, pid, answers)
    guard.fallback_calls = checked_here  # type: ignore[attr-defined]
    return guard


def event(document_id: str, **payload: Any) -> AnyEvent:
    return parse_event(factories.policy(document_id, **payload))


def test_verdicts_are_used_and_the_rest_is_checked_here() -> None:
    same, safe, refused, unknown = event("a"), event("b"), event("c"), event("d")
    cleaned = event("b", title="已清理的标题")
    cleaned = cleaned.model_copy(update={"event_id": safe.event_id})
    guard = child_answering(
        [
            [(same.event_id, ("same", None)), (safe.event_id, ("safe", encode_event(cleaned)))],
            [(refused.event_id, ("refused", ("id_number", [("document_id", "a number")])))],
        ],
        then_end=True,
    )
    assert guard(same) is same
    assert guard(safe).payload.title == "已清理的标题"
    with pytest.raises(ComplianceRefusal, match="document_id: a number") as raised:
        guard(refused)
    assert raised.value.rule == "id_number"
    assert guard(unknown) is unknown  # the child never saw it: checked here
    assert guard.fallback_calls == [unknown.event_id]  # type: ignore[attr-defined]
    assert (guard.checked_ahead, guard.checked_here) == (3, 1)


def test_a_checker_that_died_leaves_the_checks_to_this_process() -> None:
    first, second = event("a"), event("b")
    guard = child_answering([[(first.event_id, ("same", None))]], then_end=False)
    assert guard(first) is first
    assert guard(second) is second
    assert guard.fallback_calls == [second.event_id]  # type: ignore[attr-defined]
    guard.close()
