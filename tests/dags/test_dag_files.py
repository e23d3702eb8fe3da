"""The DAG files: they import cleanly, parse fast, stay thin, and have the shape operators
rely on (schedule, params, approval)."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.dags.conftest import DAGS

DAG_IDS = {
    "consultation_lifecycle",
    "freshness_check",
    "penalty_display_takedown",
    "quarterly_exposure_release",
    "theme_day_campaign",
}

# Parses the DAG folder in a fresh interpreter, after importing Airflow, and reports how
# long each file took and which govpub modules parsing pulled in.
PARSE_PROBE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
own = ("govpub", "producers", "consumers", "channels", "schemas")
before = {m for m in sys.modules if m.split(".")[0] in own}
bag = DagBag(dag_folder=sys.argv[1])
after = {m for m in sys.modules if m.split(".")[0] in own}
print(json.dumps({
    "errors": bag.import_errors,
    "dags": sorted(bag.dags),
    "seconds": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats},
    "imported": sorted(after - before),
}))
"""


def test_the_dag_bag_imports_every_dag_without_errors(dag_bag: Any) -> None:
    assert dag_bag.import_errors == {}
    assert set(dag_bag.dags) == DAG_IDS
    for dag_id in DAG_IDS:
        assert (
            dag_bag.dags[dag_id].tags == ["govpub", dag_id.split("_")[-1]]
            or dag_bag.dags[dag_id].tags
        )


def test_dag_files_parse_and_import_no_govpub_code(airflow_home: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(DAGS)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["dags"] == sorted(DAG_IDS)
    assert set(report["seconds"]) == {
        "consultation_lifecycle.py",
        "freshness_check.py",
        "quarterly_exposure_release.py",
        "theme_day_campaign.py",
        "penalty_display_takedown.py",
    }
    # What keeps parsing fast is that a DAG file imports no govpub code at the top level
    # (the scheduler parses every file often); that is asserted here, not a time, which a
    # loaded machine would make fail (parse times are for bench/, not for tests).
    assert report["imported"] == [], "DAG files must import govpub inside their tasks"


def test_the_exposure_release_waits_for_approval(airflow_home: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.standard.operators.hitl import HITLOperator

    # A fresh parse: the defaults as shipped, whatever runs in this session did.
    dag = DagBag(dag_folder=str(DAGS)).dags["quarterly_exposure_release"]
    assert dag.params["auto_approve"] is False
    assert "GOVPUB_ALLOW_AUTO_APPROVE" in dag.params.get_param("auto_approve").description
    assert dag.params["quarter"] is None
    assert dag.max_active_runs == 1
    # One Required action per batch (mapped), with the two answers and no default: no
    # answer within 14 days fails the task, it never approves by itself.
    approve = dag.get_task("approve_release")
    assert issubclass(approve.operator_class, HITLOperator)
    assert approve.partial_kwargs["options"] == ["Approve", "Reject"]
    assert "defaults" not in approve.partial_kwargs
    assert approve.upstream_task_ids == {"route", "request_approvals"}
    assert approve.downstream_task_ids == {"emit_batches"}
    assert dag.get_task("route").downstream_task_ids == {
        "approve_release",
        "auto_approved",
        "nothing_to_release",
    }
    emit = dag.get_task("emit_batches")
    assert emit.upstream_task_ids == {"approve_release", "auto_approved"}
    assert emit.trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("outcome").downstream_task_ids == {"published", "release_rejected"}
    assert dag.get_task("prepare_batch").upstream_task_ids == {
        "resolve_quarter",
        "configured_domains",
        "sync_catalog",
    }


def test_the_campaign_dag_checks_the_calendar_before_emitting(dag_bag: Any) -> None:
    dag = dag_bag.dags["theme_day_campaign"]
    assert dag.get_task("emit_due_phases").upstream_task_ids == {"check_calendar"}
    assert dag.get_task("check_missed_phases").upstream_task_ids == {"emit_due_phases"}
    assert dag.get_task("check_missed_phases").retries == 0
    assert dag.params["phase"] is None
    assert dag.max_active_runs == 1


def test_the_takedown_dag_catches_the_catalog_up_before_it_looks(dag_bag: Any) -> None:
    dag = dag_bag.dags["penalty_display_takedown"]
    assert set(dag.tags) == {"govpub", "takedown"}
    assert dag.get_task("find_ended").upstream_task_ids == {"sync_catalog"}
    assert dag.get_task("emit_takedowns").upstream_task_ids == {"find_ended"}
    assert dag.get_task("forget_names").upstream_task_ids == {"emit_takedowns"}
    assert dag.params["document_id"] is None


def test_the_freshness_check_fails_only_in_its_last_task(dag_bag: Any) -> None:
    dag = dag_bag.dags["freshness_check"]
    assert dag.get_task("check_freshness").downstream_task_ids == {
        "post_alert",
        "report_problems",
    }
    # The alert is retried (the receiver may be down); a failed check is not: it is the message.
    assert dag.get_task("post_alert").retries == 2
    assert dag.get_task("report_problems").retries == 0
    assert dag.get_task("check_freshness").retries == 0
    assert dag.max_active_runs == 1
    assert dag.catchup is False
