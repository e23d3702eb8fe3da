"""What is configurable about the gate: per-authority name policy and deadlines."""

from dataclasses import dataclass, field

from govpub.settings import Settings


@dataclass(frozen=True)
class CompliancePolicy:
    """Choices the law leaves to each authority, and the deadlines the gate flags.

    ``publish_party_names``: departments (codes) whose penalised natural persons are
    named in full; everywhere else the name is anonymised (张三 → 张某), the default.
    """

    publish_party_names: frozenset[str] = field(default_factory=frozenset)
    penalty_deadline_days: int = 7
    licence_deadline_days: int = 7
    enforcement_deadline_days: int = 7
    disclosure_deadline_days: int = 20
    withdrawal_deadline_days: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> "CompliancePolicy":
        """The policy configured by ``GOVPUB_COMPLIANCE_*``."""
        return cls(
            publish_party_names=frozenset(settings.compliance_publish_party_names),
            penalty_deadline_days=settings.compliance_penalty_deadline_days,
            licence_deadline_days=settings.compliance_licence_deadline_days,
            enforcement_deadline_days=settings.compliance_enforcement_deadline_days,
            disclosure_deadline_days=settings.compliance_disclosure_deadline_days,
            withdrawal_deadline_days=settings.compliance_withdrawal_deadline_days,
        )

    def masks_party_name(self, department: str) -> bool:
        """Whether a natural person penalised by ``department`` is anonymised."""
        return department not in self.publish_party_names
