"""``govpub library``: the 规章 and 行政规范性文件 in force, per issuer, and those whose
validity nobody has reviewed for ``GOVPUB_LIBRARY_REVIEW_DAYS`` (the cleanup the 2023 work
points ask for: 动态更新文件效力，摸清现行有效行政规范性文件底数).

A read model over the document catalog (its history of every version): for each
document its current validity, the day each validity began, its revision chain
(``superseded_by`` forwards, and the documents it replaced backwards), and the day its
validity was last reviewed — ``reviewed_on`` when the issuer gives one, else the day of
its latest version. Withdrawn documents are left out. It only reads; the command catches
the catalog up first, as the annual report does.
"""

import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from channels.catalog.state import DocumentCatalog, DocumentHistory
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.quarters import RELEASE_TIMEZONE
from schemas import DocClass, Kind, Validity

LIBRARY_CLASSES = (DocClass.REGULATION, DocClass.NORMATIVE)
"""The classes the library lists (规章库, 行政规范性文件库)."""


@dataclass(frozen=True)
class ValidityChange:
    """A validity and the day it began (Asia/Shanghai)."""

    validity: Validity
    since: date


@dataclass(frozen=True)
class LibraryDocument:
    """One document of the library as it stands."""

    document_id: str
    title: str
    doc_number: str | None
    doc_class: DocClass
    issuer: str
    department: str
    validity: Validity
    changes: tuple[ValidityChange, ...]
    """Every validity it had, oldest first (the last is the current one)."""
    superseded_by: str | None
    reviewed_on: date

    @property
    def validity_since(self) -> date:
        """The day the current validity began."""
        return self.changes[-1].since


@dataclass(frozen=True)
class LibraryReport:
    """The library on day ``as_of``."""

    as_of: date
    review_days: int
    documents: list[LibraryDocument]
    supersedes: dict[str, list[str]] = field(default_factory=dict)
    """For each document, those it replaced (their ``superseded_by`` names it)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """Documents by class and validity (every validity, zero included)."""
        found = Counter((d.doc_class, d.validity) for d in self.documents)
        return {c.value: {v.value: found[(c, v)] for v in Validity} for c in LIBRARY_CLASSES}

    def in_force_by_issuer(self) -> dict[str, list[LibraryDocument]]:
        """The documents in force, by issuer (issuers in name order)."""
        by_issuer: dict[str, list[LibraryDocument]] = defaultdict(list)
        for doc in self.documents:
            if doc.validity is Validity.IN_FORCE:
                by_issuer[doc.issuer].append(doc)
        return {issuer: by_issuer[issuer] for issuer in sorted(by_issuer)}

    def not_reviewed(self) -> list[LibraryDocument]:
        """Documents in force whose validity was last reviewed more than ``review_days``
        ago, longest first."""
        limit = self.as_of - timedelta(days=self.review_days)
        stale = [
            d for d in self.documents if d.validity is Validity.IN_FORCE and d.reviewed_on < limit
        ]
        return sorted(stale, key=lambda d: (d.reviewed_on, d.document_id))

    def chain(self, document_id: str) -> tuple[list[str], list[str]]:
        """``(earlier, later)``: the documents ``document_id`` replaced, in turn, oldest
        first, and those that replaced it, in turn."""
        by_id = {d.document_id: d for d in self.documents}
        later: list[str] = []
        current = by_id.get(document_id)
        while current is not None and current.superseded_by and current.superseded_by not in later:
            later.append(current.superseded_by)
            current = by_id.get(current.superseded_by)
        earlier: list[str] = []
        frontier = [document_id]
        while frontier:
            found = [p for d in frontier for p in self.supersedes.get(d, []) if p not in earlier]
            earlier = found + earlier
            frontier = found
        return earlier, later

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: counts, in force by issuer, not reviewed, and every document."""
        return {
            "as_of": self.as_of.isoformat(),
            "review_days": self.review_days,
            "counts": self.counts(),
            "in_force_by_issuer": {
                issuer: [d.document_id for d in docs]
                for issuer, docs in self.in_force_by_issuer().items()
            },
            "not_reviewed": [
                {"id": d.document_id, "reviewed_on": d.reviewed_on.isoformat()}
                for d in self.not_reviewed()
            ],
            "documents": [self._document_json(d) for d in self.documents],
        }

    def _document_json(self, doc: LibraryDocument) -> dict[str, Any]:
        earlier, later = self.chain(doc.document_id)
        return {
            "id": doc.document_id,
            "title": doc.title,
            "doc_number": doc.doc_number,
            "doc_class": doc.doc_class.value,
            "issuer": doc.issuer,
            "department": doc.department,
            "validity": doc.validity.value,
            "validity_since": doc.validity_since.isoformat(),
            "validity_changes": [
                {"validity": c.validity.value, "since": c.since.isoformat()} for c in doc.changes
            ],
            "superseded_by": doc.superseded_by,
            "supersedes": self.supersedes.get(doc.document_id, []),
            "revision_chain": {"earlier": earlier, "later": later},
            "reviewed_on": doc.reviewed_on.isoformat(),
        }


def _local_day(moment: datetime) -> date:
    return moment.astimezone(RELEASE_TIMEZONE).date()


def library_documents(histories: Iterable[DocumentHistory]) -> list[LibraryDocument]:
    """The library's documents from the catalog's histories of policies: the latest
    content version of each, unless withdrawn, of a library class."""
    found = []
    for history in histories:
        latest = history.versions[-1]
        if latest.action == "retract":
            continue
        payload = latest.payload
        doc_class = DocClass(payload["doc_class"])
        if doc_class not in LIBRARY_CLASSES:
            continue
        changes: list[ValidityChange] = []
        for version in history.versions:
            if version.action == "retract":
                continue
            validity = Validity(version.payload.get("validity", Validity.IN_FORCE.value))
            if not changes or changes[-1].validity is not validity:
                changes.append(ValidityChange(validity, _local_day(version.occurred_at)))
        reviewed = payload.get("reviewed_on")
        found.append(
            LibraryDocument(
                document_id=history.document_id,
                title=str(payload["title"]),
                doc_number=payload.get("doc_number"),
                doc_class=doc_class,
                issuer=str(payload["issuer"]),
                department=latest.department,
                validity=changes[-1].validity,
                changes=tuple(changes),
                superseded_by=payload.get("superseded_by"),
                reviewed_on=(
                    date.fromisoformat(reviewed)
                    if isinstance(reviewed, str)
                    else _local_day(latest.occurred_at)
                ),
            )
        )
    found.sort(key=lambda d: (d.doc_class.value, d.issuer, d.document_id))
    return found


def read_library(settings: Settings, store: Store, *, as_of: date) -> LibraryReport:
    """The library on day ``as_of``, from the document catalog in ``store``."""
    documents = library_documents(DocumentCatalog(store).histories([Kind.POLICY.value]))
    supersedes: dict[str, list[str]] = defaultdict(list)
    for doc in documents:
        if doc.superseded_by:
            supersedes[doc.superseded_by].append(doc.document_id)
    return LibraryReport(as_of, settings.library_review_days, documents, dict(supersedes))


def render_library(report: LibraryReport) -> str:
    """The plain-text report of ``govpub library``."""
    lines = [f"library of 规章 and 行政规范性文件, as of {report.as_of}:"]
    lines.append(
        "  " + _pad("class", 16) + "".join(_pad(v.value, 10, right=True) for v in Validity)
    )
    for doc_class, by_validity in report.counts().items():
        lines.append(
            "  "
            + _pad(doc_class, 16)
            + "".join(_pad(str(n), 10, right=True) for n in by_validity.values())
        )
    lines.append("")
    lines.append("in force, by issuer:")
    by_issuer = report.in_force_by_issuer()
    if not by_issuer:
        lines.append("  none")
    for issuer, docs in by_issuer.items():
        lines.append(f"  {issuer}: {len(docs)}")
        for doc in docs:
            number = f" {doc.doc_number}" if doc.doc_number else ""
            lines.append(
                f"    {doc.document_id}{number} {doc.title} ({doc.doc_class.value},"
                f" in force since {doc.validity_since})"
            )
    stale = report.not_reviewed()
    lines.append("")
    lines.append(
        f"in force, validity not reviewed for more than {report.review_days} days"
        f" (GOVPUB_LIBRARY_REVIEW_DAYS): {len(stale)}"
    )
    for doc in stale:
        lines.append(
            f"  {doc.document_id} {doc.title} ({doc.issuer}), last reviewed {doc.reviewed_on}"
        )
    return "\n".join(lines) + "\n"


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
    fill = " " * max(0, width - used)
    return fill + text if right else text + fill


def library_json(report: LibraryReport) -> str:
    """``govpub library --json``."""
    return json.dumps(report.as_json(), ensure_ascii=False, indent=2)
