"""``govpub library`` (table and ``--json``): the 规章 and 行政规范性文件 in force per issuer,
with counts by validity, the day each validity began, revision chains both ways, and the
documents whose validity was not reviewed for GOVPUB_LIBRARY_REVIEW_DAYS — read from the
document catalog on each transport."""

import json
from typing import Any

import pytest

from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from tests import factories
from tests.integration.test_cli import govpub

pytestmark = pytest.mark.usefixtures("store_location")


def at(event: dict[str, Any], day: str) -> dict[str, Any]:
    return {**event, "occurred_at": f"{day}T10:00:00+08:00"}


def send(settings: Settings, *events: dict[str, Any]) -> None:
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish_many(list(events))


def test_the_library_tells_what_is_in_force(settings: Settings) -> None:
    send(
        settings,
        at(factories.policy("gz-1", doc_class="规章", issuer="株洲市人民政府"), "2021-03-01"),
        at(factories.policy("gf-old", reviewed_on="2025-06-01"), "2020-01-10"),
        at(factories.policy("gf-mid"), "2022-02-01"),
        at(factories.policy("gf-new", issuer="株洲市司法局"), "2024-07-01"),
        at(factories.policy("gf-repealed"), "2021-05-01"),
        at(factories.policy("other-1", doc_class="其他"), "2023-01-01"),
        at(factories.policy("gf-withdrawn"), "2023-01-01"),
    )
    send(
        settings,
        at(factories.policy("gf-old", 2, validity="已修订", superseded_by="gf-mid"), "2022-02-01"),
        at(factories.policy("gf-mid", 2, validity="已修订", superseded_by="gf-new"), "2024-07-01"),
        at(factories.policy("gf-repealed", 2, validity="已废止"), "2025-03-15"),
        factories.retract("policy", "gf-withdrawn", 2, department="zz-zfb"),
    )
    result = govpub(settings, "library", "--json", "--at", "2026-01-01")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {
        "规章": {"现行有效": 1, "已修订": 0, "已废止": 0, "已失效": 0},
        "行政规范性文件": {"现行有效": 1, "已修订": 2, "已废止": 1, "已失效": 0},
    }
    assert report["in_force_by_issuer"] == {
        "株洲市人民政府": ["gz-1"],
        "株洲市司法局": ["gf-new"],
    }
    documents = {d["id"]: d for d in report["documents"]}
    assert set(documents) == {"gz-1", "gf-old", "gf-mid", "gf-new", "gf-repealed"}
    assert documents["gf-repealed"]["validity_changes"] == [
        {"validity": "现行有效", "since": "2021-05-01"},
        {"validity": "已废止", "since": "2025-03-15"},
    ]
    assert documents["gf-mid"]["revision_chain"] == {"earlier": ["gf-old"], "later": ["gf-new"]}
    assert documents["gf-new"]["revision_chain"] == {
        "earlier": ["gf-old", "gf-mid"],
        "later": [],
    }
    assert documents["gf-old"]["supersedes"] == []
    assert documents["gf-mid"]["supersedes"] == ["gf-old"]
    # Not reviewed for two years (the default): gz-1, reviewed only when published in 2021;
    # gf-old gave reviewed_on but is no longer in force; gf-new is recent.
    assert report["not_reviewed"] == [{"id": "gz-1", "reviewed_on": "2021-03-01"}]

    text = govpub(settings, "library", "--at", "2026-01-01")
    assert text.returncode == 0, text.stderr
    assert "株洲市司法局: 1" in text.stdout
    assert "gf-new 株政办发〔2023〕5号" in text.stdout
    assert "in force since 2024-07-01" in text.stdout
    assert "not reviewed for more than 730 days (GOVPUB_LIBRARY_REVIEW_DAYS): 1" in text.stdout
