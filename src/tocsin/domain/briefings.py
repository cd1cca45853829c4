"""The briefing handed over with an incident role: where things stand, what was done, what is suspected."""

from __future__ import annotations

from dataclasses import dataclass

TEXT_MAX = 5_000


@dataclass(frozen=True)
class Briefing:
    status: str = ""
    actions_taken: str = ""
    hypothesis: str = ""

    def cleaned(self) -> Briefing:
        return Briefing(self.status.strip(), self.actions_taken.strip(), self.hypothesis.strip())

    @property
    def empty(self) -> bool:
        return not (self.status.strip() or self.actions_taken.strip() or self.hypothesis.strip())

    def parts(self) -> list[tuple[str, str]]:
        """(label, text) of the parts that were given, in reading order."""
        labelled = (("Status", self.status), ("Actions taken", self.actions_taken), ("Hypothesis", self.hypothesis))
        return [(label, text) for label, text in labelled if text]

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, "actions_taken": self.actions_taken, "hypothesis": self.hypothesis}


def problem(briefing: Briefing) -> tuple[str, str] | None:
    """(field, message) when a briefing cannot be handed over as it is."""
    if briefing.empty:
        return "briefing", "a briefing needs a status, the actions taken or a hypothesis"
    for field in ("status", "actions_taken", "hypothesis"):
        if len(getattr(briefing, field)) > TEXT_MAX:
            return f"briefing.{field}", f"at most {TEXT_MAX} characters"
    return None
