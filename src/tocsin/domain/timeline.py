"""The kinds of entry an incident timeline holds."""

from __future__ import annotations

from enum import StrEnum


class EntryKind(StrEnum):
    DECLARED = "declared"
    STATUS = "status"
    SEVERITY = "severity"
    ROLE = "role"
    NOTE = "note"
    UPDATE = "update"
    FIELD = "field"  # title, impact, services
    TARGET_MISSED = "target_missed"
    ALERT = "alert"  # an alert attached to the incident, or one of its alerts resolved
    CHECKLIST = "checklist"  # a checklist item ticked or unticked
    POSTMORTEM = "postmortem"  # drafted, sent for review, published
    ACTION_ITEM = "action_item"  # added, finished
