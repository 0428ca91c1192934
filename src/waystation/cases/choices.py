"""Coded values of the person in care. Codes are stored; labels are translated."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    UNKNOWN = "U", _("Unknown / other")


class Province(models.TextChoices):
    """The DPRK's provinces and special cities (province of origin)."""

    PYONGYANG = "pyongyang", _("Pyongyang")
    RASON = "rason", _("Rason")
    NAMPHO = "nampho", _("Nampho")
    KAESONG = "kaesong", _("Kaesong")
    NORTH_HAMGYONG = "north_hamgyong", _("North Hamgyong")
    SOUTH_HAMGYONG = "south_hamgyong", _("South Hamgyong")
    RYANGGANG = "ryanggang", _("Ryanggang")
    CHAGANG = "chagang", _("Chagang")
    NORTH_PYONGAN = "north_pyongan", _("North Pyongan")
    SOUTH_PYONGAN = "south_pyongan", _("South Pyongan")
    KANGWON = "kangwon", _("Kangwon")
    NORTH_HWANGHAE = "north_hwanghae", _("North Hwanghae")
    SOUTH_HWANGHAE = "south_hwanghae", _("South Hwanghae")
    UNKNOWN = "unknown", _("Unknown")


class Language(models.TextChoices):
    KOREAN = "ko", _("Korean")
    CHINESE = "zh", _("Chinese")
    ENGLISH = "en", _("English")
    RUSSIAN = "ru", _("Russian")
    LAO = "lo", _("Lao")
    THAI = "th", _("Thai")
    VIETNAMESE = "vi", _("Vietnamese")


class CaseStatus(models.TextChoices):
    CONTACTED = "contacted", _("Contacted")
    SHELTERED = "sheltered", _("Sheltered")
    IN_TRANSIT = "in_transit", _("In transit")
    THIRD_COUNTRY = "third_country", _("In a third country / processing")
    ARRIVED_KR = "arrived_kr", _("Arrived in South Korea")
    RESETTLED = "resettled", _("Resettled and followed up")
    DETAINED = "detained", _("Detained")
    REPATRIATED = "repatriated", _("Repatriated")
    MISSING = "missing", _("Missing")
    DECEASED = "deceased", _("Deceased")
    CLOSED = "closed", _("Closed")


# A case in one of these statuses is no longer in the network's care.
ENDED_STATUSES = (CaseStatus.REPATRIATED, CaseStatus.DECEASED, CaseStatus.CLOSED)


class ConsentScope(models.TextChoices):
    SERVICES = "services", _("Receiving services")
    DATA_STORAGE = "data_storage", _("Storing personal data")
    SHARING = "sharing", _("Sharing with a named partner")
    STATISTICS = "statistics", _("Inclusion in anonymous statistics")
    PHOTOS = "photos", _("Photos")


class Relation(models.TextChoices):
    """What a family link's ``person`` is to its ``relative``."""

    MOTHER = "mother", _("Mother")
    FATHER = "father", _("Father")
    PARENT = "parent", _("Parent")  # a parent whose sex is not known
    CHILD = "child", _("Child")
    SIBLING = "sibling", _("Sibling")
    SPOUSE = "spouse", _("Spouse / partner")
    OTHER = "other", _("Other relative")


# Relations that make the link's person a parent of its relative.
PARENT_RELATIONS = (Relation.MOTHER, Relation.FATHER, Relation.PARENT)

# What the relative is to the person, for a link's relation. A parent is named here without a sex: use
# ``inverse_relation`` to name them mother or father.
INVERSE_RELATION = {
    Relation.MOTHER: Relation.CHILD,
    Relation.FATHER: Relation.CHILD,
    Relation.PARENT: Relation.CHILD,
    Relation.CHILD: Relation.PARENT,
    Relation.SIBLING: Relation.SIBLING,
    Relation.SPOUSE: Relation.SPOUSE,
    Relation.OTHER: Relation.OTHER,
}


def inverse_relation(relation: str, *, other_sex: str) -> Relation:
    """What the other side of a link is, when this side is ``relation`` of it; ``other_sex`` is the other side's sex.

    A link "A is the child of B", seen from A, makes B A's mother (sex F), father (sex M) or parent (unknown).
    """
    inverse = INVERSE_RELATION[Relation(relation)]
    if inverse != Relation.PARENT:
        return inverse
    if other_sex == Sex.FEMALE:
        return Relation.MOTHER
    if other_sex == Sex.MALE:
        return Relation.FATHER
    return Relation.PARENT


class NeedArea(models.TextChoices):
    MEDICAL = "medical", _("Medical")
    MENTAL_HEALTH = "mental_health", _("Mental health")
    SHELTER = "shelter", _("Shelter")
    DOCUMENTS_LEGAL = "documents_legal", _("Documents and legal")
    CHILDREN = "children", _("Children")
    LIVELIHOOD = "livelihood", _("Livelihood")
    SAFETY = "safety", _("Safety")


class NeedLevel(models.IntegerChoices):
    NONE = 0, _("No need")
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class ServiceKind(models.TextChoices):
    COUNSELLING = "counselling", _("Counselling session")
    MEDICAL = "medical", _("Medical")
    SHELTER_NIGHTS = "shelter_nights", _("Shelter nights")
    LEGAL = "legal", _("Legal")
    EDUCATION = "education", _("Education")
    FINANCIAL = "financial", _("Financial")


class GoalStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACHIEVED = "achieved", _("Achieved")
    DROPPED = "dropped", _("Dropped")


class ReferralStatus(models.TextChoices):
    MADE = "made", _("Made")
    ACCEPTED = "accepted", _("Accepted")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined")


class TaskKind(models.TextChoices):
    MEDICAL = "medical", _("Medical appointment")
    DOCUMENTS = "documents", _("Documents")
    COUNSELLING = "counselling", _("Counselling")
    CONTACT = "contact", _("Check in with the person")
    MOVEMENT = "movement", _("Prepare a movement")
    OTHER = "other", _("Other")
