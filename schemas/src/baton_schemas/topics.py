"""Topic names. Every service takes them from here, with the deployment's prefix."""

from __future__ import annotations

from dataclasses import dataclass

LEADS_CAPTURED = "leads.captured"
LEADS_ASSIGNED = "leads.assigned"
SLA_EVENTS = "sla.events"
FEEDBACK_TRACEABLE = "feedback.traceable"
FEEDBACK_CLOSED_DEALS = "feedback.closed-deals"
CRM_ACTIVITY = "crm.activity"
POLICY_EVENTS = "policy.events"
DEAD_LETTER = "deadletter"


@dataclass(frozen=True)
class Topics:
    """Resolves logical topic names to the deployment's physical names."""

    prefix: str = ""

    def name(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    @property
    def leads_captured(self) -> str:
        return self.name(LEADS_CAPTURED)

    @property
    def leads_assigned(self) -> str:
        return self.name(LEADS_ASSIGNED)

    @property
    def sla_events(self) -> str:
        return self.name(SLA_EVENTS)

    @property
    def feedback_traceable(self) -> str:
        return self.name(FEEDBACK_TRACEABLE)

    @property
    def feedback_closed_deals(self) -> str:
        return self.name(FEEDBACK_CLOSED_DEALS)

    @property
    def crm_activity(self) -> str:
        return self.name(CRM_ACTIVITY)

    @property
    def policy_events(self) -> str:
        return self.name(POLICY_EVENTS)

    def dead_letter(self, service: str) -> str:
        """One dead-letter topic per service, like one DLQ per Kafka Connect connector."""
        return self.name(f"{DEAD_LETTER}.{service}")

    def all_for(
        self, services: tuple[str, ...] = ("router", "sla-monitor", "feedback")
    ) -> list[str]:
        shared = [
            self.leads_captured,
            self.leads_assigned,
            self.sla_events,
            self.feedback_traceable,
            self.feedback_closed_deals,
            self.crm_activity,
            self.policy_events,
        ]
        return shared + [self.dead_letter(service) for service in services]
