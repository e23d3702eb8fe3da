"""Valid events for tests, built from the sample content; override any field."""

import uuid
from typing import Any


def new_id() -> str:
    """A fresh event id."""
    return str(uuid.uuid4())


def policy(document_id: str = "doc-policy-1", version: int = 1, **payload: Any) -> dict[str, Any]:
    """A policy event (行政规范性文件 with its interpretation)."""
    body: dict[str, Any] = {
        "title": "关于进一步优化营商环境的若干措施",
        "doc_number": "株政办发〔2023〕5号",
        "issuer": "株洲市人民政府办公室",
        "doc_class": "行政规范性文件",
        "written_on": "2023-03-15",
        "body": "<p>为打造一流营商环境，现提出以下措施。</p>",
        "interpretation": {"title": "政策解读", "body": "<p>解读内容</p>"},
    }
    body.update(payload)
    return envelope("policy", document_id, version, body, department="zz-zfb")


def penalty(document_id: str = "doc-penalty-1", version: int = 1, **payload: Any) -> dict[str, Any]:
    """A penalty decision against a company."""
    body: dict[str, Any] = {
        "title": "某化工有限公司安全生产违法行为行政处罚决定",
        "decision_number": "（株）应急罚〔2023〕12号",
        "party_type": "法人",
        "party_name": "株洲示例化工有限公司",
        "credit_code": "91430211MA4PXR123G",
        "facts": "未按规定对重大危险源进行定期检测、评估。",
        "legal_basis": "《中华人民共和国安全生产法》第九十七条",
        "penalty_types": ["罚款"],
        "fine_amount": "50000.00",
        "authority": "株洲市应急管理局",
        "decided_on": "2023-05-05",
        "domain": "安全生产",
    }
    if payload.get("party_type") == "自然人" and "credit_code" not in payload:
        del body["credit_code"]  # a natural person has no credit code
    body.update(payload)
    return envelope("penalty", document_id, version, body, department="zz-yjj")


def licence(document_id: str = "doc-licence-1", version: int = 1, **payload: Any) -> dict[str, Any]:
    """A licensing decision granted to a company."""
    body: dict[str, Any] = {
        "title": "株洲示例化工有限公司危险化学品经营许可",
        "decision_number": "株应急许〔2023〕8号",
        "applicant_type": "法人",
        "applicant": "株洲示例化工有限公司",
        "credit_code": "91430211MA4PXR123G",
        "item": "危险化学品经营许可",
        "decision": "准予",
        "licence_number": "湘株危化经字〔2023〕000008",
        "legal_basis": "《危险化学品安全管理条例》第三十三条",
        "authority": "株洲市应急管理局",
        "decided_on": "2023-05-05",
        "valid_until": "2026-05-04",
    }
    if payload.get("applicant_type") == "自然人" and "credit_code" not in payload:
        del body["credit_code"]
    body.update(payload)
    return envelope("licence", document_id, version, body, department="zz-yjj")


def enforcement(
    document_id: str = "doc-enforcement-1", version: int = 1, **payload: Any
) -> dict[str, Any]:
    """An enforcement decision (查封) against a company."""
    body: dict[str, Any] = {
        "title": "株洲示例化工有限公司违法储存危险化学品查封决定",
        "decision_number": "株应急强制〔2023〕3号",
        "measures": ["查封"],
        "party_type": "法人",
        "party_name": "株洲示例化工有限公司",
        "credit_code": "91430211MA4PXR123G",
        "facts": "在未取得许可的仓库内储存危险化学品。",
        "objects": "芦淞区某仓库内储存的危险化学品及其储存设施",
        "legal_basis": "《中华人民共和国行政强制法》第二十二条；《危险化学品安全管理条例》第七条",
        "authority": "株洲市应急管理局",
        "decided_on": "2023-05-05",
        "ends_on": "2023-06-03",
        "domain": "安全生产",
    }
    if payload.get("party_type") == "自然人" and "credit_code" not in payload:
        del body["credit_code"]
    body.update(payload)
    return envelope("enforcement", document_id, version, body, department="zz-yjj")


def report(
    document_id: str = "annual-report-2023", version: int = 1, **payload: Any
) -> dict[str, Any]:
    """An annual report table (as ``govpub annual-report`` publishes it)."""
    body: dict[str, Any] = {
        "title": "株洲市人民政府2023年政府信息公开工作年度报告（二、主动公开政府信息情况）",
        "year": 2023,
        "scope_name": "株洲市人民政府",
        "report_format": "gov-2021",
        "format_source": "国办公开办函〔2021〕30号",
        "table": "二、主动公开政府信息情况",
        "sections": [
            {
                "heading": "第二十条第（一）项",
                "columns": ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
                "rows": [
                    {"label": "规章", "cells": ["1", "0", "3"]},
                    {"label": "行政规范性文件", "cells": ["12", "2", "130"]},
                ],
            },
            {
                "heading": "第二十条第（八）项",
                "columns": ["信息内容", "本年收费金额（单位：万元）"],
                "rows": [{"label": "行政事业性收费", "cells": ["1286.45"]}],
            },
        ],
        "notes": ["统计期限为2023年1月1日至12月31日（北京时间）。"],
    }
    body.update(payload)
    return envelope("report", document_id, version, body, department="zz-zfb")


def retract(
    kind: str, document_id: str, version: int, reason: str = "依法撤销", department: str = "zz-yjj"
) -> dict[str, Any]:
    """A retraction of ``document_id``."""
    event = envelope(kind, document_id, version, {"reason": reason}, department=department)
    event["action"] = "retract"
    return event


def envelope(
    kind: str,
    document_id: str,
    version: int,
    payload: dict[str, Any],
    *,
    department: str = "zz-zfb",
    occurred_at: str | None = None,
) -> dict[str, Any]:
    """An event around ``payload``."""
    return {
        "event_id": new_id(),
        "kind": kind,
        "action": "publish" if version == 1 else "update",
        "document_id": document_id,
        "version": version,
        "department": department,
        "occurred_at": occurred_at or f"2023-05-{min(28, version):02d}T10:00:00+08:00",
        "payload": payload,
    }
