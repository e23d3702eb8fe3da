"""Forgetting the party register's names once no document may need them.

The compliance gate keeps the names it masks in a penalty decision (the party register,
:mod:`govpub.compliance.parties`) so that an exposure citing the decision, or a
withdrawal, can be masked too. Personal information is kept no longer than that purpose
needs (《个人信息保护法》第十九条, the shortest period necessary), so the daily take-down
(``penalty_display_takedown``) also forgets names:

- a penalty decision's, ``GOVPUB_PARTY_NAMES_KEEP_DAYS`` after its display period ended
  (an exposure may cite a decision only while it is displayed; the days after leave time
  for its take-down and a late correction), whether it was taken down or withdrawn;
- any other entry (an exposure's names, a decision the catalog never saw or that has no
  take-down date), ``GOVPUB_PARTY_NAMES_MAX_AGE_DAYS`` after it was last recorded: by
  default the longest display period (3 years) and one more year.

A name forgotten too early costs nothing silent: the channels' guard and the gate still
mask every name a document carries itself; only a later text that cites the decision
without naming it in a form the guard recognises would lose the cross-document mask.
"""

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from govpub.compliance.parties import StoredPartyRegister
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.quarters import RELEASE_TIMEZONE

log = logging.getLogger(__name__)


class DisplayEnds(Protocol):
    """The document catalog as the retention reads it."""

    def display_ends(self) -> dict[str, date]:
        """The last day each penalty decision is (or was) displayed."""
        ...


DisplayEndsOpener = Callable[[Store], DisplayEnds]
"""Opens the document catalog on a state store (the shell passes the catalog channel's)."""


class ForgottenNames(BaseModel):
    """What one day's retention forgot: document ids only, never a name."""

    model_config = ConfigDict(frozen=True)

    on: date
    after_display: list[str] = []
    by_age: list[str] = []
    kept: int = 0

    @property
    def note(self) -> str:
        """One line for the run's note."""
        forgotten = len(self.after_display) + len(self.by_age)
        return (
            f"party register: {forgotten} document(s) forgotten ({len(self.after_display)}"
            f" after their display ended, {len(self.by_age)} by age), {self.kept} kept"
        )


def names_to_forget(
    recorded: Mapping[str, datetime],
    display_ends: Mapping[str, date],
    *,
    on: date,
    keep_days: int,
    max_age_days: int,
) -> ForgottenNames:
    """Which register entries to forget on day ``on`` (see the module's rules)."""
    after_display: list[str] = []
    by_age: list[str] = []
    for document_id, at in sorted(recorded.items()):
        ended = display_ends.get(document_id)
        if ended is not None:
            # Displayed (and so citable) until it ends, however long that is.
            if ended + timedelta(days=keep_days) < on:
                after_display.append(document_id)
        elif at.astimezone(RELEASE_TIMEZONE).date() + timedelta(days=max_age_days) < on:
            by_age.append(document_id)
    kept = len(recorded) - len(after_display) - len(by_age)
    return ForgottenNames(on=on, after_display=after_display, by_age=by_age, kept=kept)


def forget_party_names(
    settings: Settings, on: date, *, catalog: DisplayEndsOpener
) -> ForgottenNames:
    """Forget the names no document needs any more on day ``on`` (Asia/Shanghai); call it
    with a caught-up catalog. Safe to repeat."""
    with Store(settings.store) as store:
        register = StoredPartyRegister(store)
        plan = names_to_forget(
            register.recorded(),
            catalog(store).display_ends(),
            on=on,
            keep_days=settings.party_names_keep_days,
            max_age_days=settings.party_names_max_age_days,
        )
        register.forget([*plan.after_display, *plan.by_age])
    log.info("%s", plan.note)
    return plan
