from waystation.cases.models.care import (
    Assignment,
    CarePlanGoal,
    CaseNote,
    FollowUpTask,
    NeedsAssessment,
    Partner,
    Referral,
    ServiceRecord,
)
from waystation.cases.models.history import ExploitationEpisode
from waystation.cases.models.person import Consent, FamilyLink, Person

__all__ = [
    "Assignment",
    "CarePlanGoal",
    "CaseNote",
    "Consent",
    "ExploitationEpisode",
    "FamilyLink",
    "FollowUpTask",
    "NeedsAssessment",
    "Partner",
    "Person",
    "Referral",
    "ServiceRecord",
]
