"""Code lists from IOM's Human Trafficking Case Data Standard (HTCDS) 2.0, for recording exploitation episodes.

Source: "Human Trafficking Case Data Standard (HTCDS)" version 2.0 (December 2021) by the International Organization
for Migration (IOM), https://github.com/UNMigration/HTCDS, licensed under the Creative Commons Attribution 4.0
International licence (CC BY 4.0, http://creativecommons.org/licenses/by/4.0/). The code values below are derived
from the picklist value names of `htcds_field_standards_2.0_Field_Standards.csv` and the definitions in
`Field Definitions.md`; the labels are adapted. Changes: codes converted to lower snake_case, some lists extended or
refined where Waystation needs more detail (each extension is marked and has an explicit HTCDS export mapping).
IOM does not endorse Waystation or the organisations that use it.

Where HTCDS gives a code, the stored value is its snake_case (``ForcedMarriage`` -> ``forced_marriage``); every value,
extensions included, turns back into HTCDS codes through the ``*_TO_HTCDS`` mappings at the end of this module.
Stored values are part of the data: never rename one, only add.
"""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils.translation import gettext_lazy as _

HTCDS_VERSION: Final = "2.0"


class ExploitationType(models.TextChoices):
    """HTCDS ``vic_TypeOfExploitation``, with ``vic_TypeOfSexExploitation`` folded in under sexual exploitation.

    HTCDS records the form of sexual exploitation in a second field; one list is simpler to record and count, and
    ``EXPLOITATION_TYPE_TO_HTCDS`` splits a value back into the two HTCDS fields. ``sexual_exploitation`` alone means
    the form is not known. ``venue_based_prostitution`` is a Waystation refinement (HTCDS has only ``Prostitution``).
    """

    FORCED_MARRIAGE = "forced_marriage", _("Forced marriage")
    SEXUAL_EXPLOITATION = "sexual_exploitation", _("Sexual exploitation (form not known)")
    # vic_TypeOfSexExploitation: Prostitution, Pornography, RemoteInteractiveServices, PrivateSexualServices.
    PROSTITUTION = "prostitution", _("Sexual exploitation: prostitution")
    VENUE_BASED_PROSTITUTION = (
        "venue_based_prostitution",
        _("Sexual exploitation: prostitution in a brothel or venue (karaoke, massage parlour, bar)"),
    )
    PRIVATE_SEXUAL_SERVICES = "private_sexual_services", _("Sexual exploitation: private sexual services")
    REMOTE_INTERACTIVE_SERVICES = (
        "remote_interactive_services",
        _("Sexual exploitation: remote interactive services (cybersex, webcam)"),
    )
    PORNOGRAPHY = "pornography", _("Sexual exploitation: pornography")
    FORCED_LABOUR = "forced_labour", _("Forced labour")
    CHILD_LABOUR = "child_labour", _("Child labour")
    SERVITUDE = "servitude", _("Servitude")
    FORCED_MILITARY_BY_NON_STATE_ACTORS = (
        "forced_military_by_non_state_actors",
        _("Forced military service (by non-state actors)"),
    )
    ORGAN_REMOVAL = "organ_removal", _("Organ removal")
    FORCED_BEGGING = "forced_begging", _("Forced begging")
    FORCED_ADOPTION = "forced_adoption", _("Forced adoption")
    SURROGACY = "surrogacy", _("Surrogacy")
    OTHER = "other", _("Other")


class PerpetratorRole(models.TextChoices):
    """HTCDS ``per_RoleInProcess`` (multiselect): what a perpetrator did in the trafficking process."""

    RECRUITER_OR_INTERMEDIARY = "recruiter_or_intermediary", _("Recruiter or intermediary")
    BROKER_TRAVEL_AGENT = "broker_travel_agent", _("Broker or travel agent")
    TRAVELLING_PARTNER = "travelling_partner", _("Travelling partner")
    TRANSPORTER = "transporter", _("Transporter")
    SMUGGLER = "smuggler", _("Smuggler")
    KIDNAPPER = "kidnapper", _("Kidnapper")
    TRANSFERRED_INDIVIDUAL = "transferred_individual", _("Transferred the person")
    HARBOURED_INDIVIDUAL = "harboured_individual", _("Harboured the person")
    SOLD_INDIVIDUAL = "sold_individual", _("Sold the person (seller)")
    BOUGHT_INDIVIDUAL = "bought_individual", _("Bought the person (buyer)")
    RECEIVED_INDIVIDUAL = "received_individual", _("Received the person")
    CONTROLLED_INDIVIDUAL = "controlled_individual", _("Controlled the person")
    EXPLOITER = "exploiter", _("Exploiter")
    ABUSER = "abuser", _("Abuser")
    OTHER = "other", _("Other")


class ControlMethod(models.TextChoices):
    """HTCDS ``vic_MethodsOfControl`` (multiselect); definitions in HTCDS ``Field Definitions.md``.

    ``restricts_movement`` and ``uses_children`` are defined in the HTCDS field definitions
    (MethodsOfControlRestrictsMovement, MethodsOfControlUsesChildren) but missing from the 2.0 picklist; they are
    kept here because confinement and withholding of children are central to forced marriage, and exported as
    ``Other``.
    """

    DEBT_BONDAGE = "debt_bondage", _("Debt bondage")
    TAKES_EARNINGS = "takes_earnings", _("Takes earnings")
    RESTRICTS_FINANCIAL_ACCESS = "restricts_financial_access", _("Restricts access to money")
    PHYSICAL_THREATS = "physical_threats", _("Threats of violence or harm")
    THREATS_LAW_ENFORCEMENT = "threats_law_enforcement", _("Threats to report to police or immigration authorities")
    THREATENS_CHILDREN_FAMILY = "threatens_children_family", _("Threatens children or family")
    PHYSICAL_ABUSE = "physical_abuse", _("Physical violence")
    SEXUAL_ABUSE = "sexual_abuse", _("Sexual abuse")
    PSYCHOLOGICAL_ABUSE = "psychological_abuse", _("Psychological abuse")
    FALSE_PROMISES = "false_promises", _("False promises, deception")
    PSYCHOACTIVE_SUBSTANCE = "psychoactive_substance", _("Drugs or alcohol used for control")
    RESTRICTS_MOVEMENT = "restricts_movement", _("Restricts movement, confinement or isolation")
    RESTRICTS_MEDICAL_CARE = "restricts_medical_care", _("Restricts medical care")
    WITHHOLDS_NECESSITIES = "withholds_necessities", _("Withholds food, shelter or other necessities")
    WITHHOLDS_DOCUMENTS = "withholds_documents", _("Confiscates or withholds documents")
    EXCESSIVE_WORKING_HOURS = "excessive_working_hours", _("Excessive working hours")
    USES_CHILDREN = "uses_children", _("Uses the person's children (separation, withholding)")
    OTHER = "other", _("Other")


class RecruitmentMethod(models.TextChoices):
    """HTCDS ``vic_MethodOfRecruitment`` (multiselect in HTCDS): where or through which channel recruitment began.

    The HTCDS codes describe the channel, not the means: deception is a control method (``false_promises``), and an
    abduction through the perpetrator role ``kidnapper``. A direct approach by a broker fits none of the codes: record
    ``other`` here and the broker as perpetrator role ``recruiter_or_intermediary``.
    """

    THROUGH_FAMILY_OR_FAMILY_EVENTS = "through_family_or_family_events", _("Through family or family events")
    THROUGH_FRIENDS_OR_SOCIAL_EVENTS = "through_friends_or_social_events", _("Through friends or social events")
    AT_WORK = "at_work", _("At work")
    AT_A_PLACE_OF_BUSINESS = "at_a_place_of_business", _("At a place of business")
    AT_AN_EDUCATIONAL_INSTITUTION = "at_an_educational_institution", _("At an educational institution")
    THROUGH_ONLINE_SOCIAL_NETWORKS = "through_online_social_networks", _("Through online social networks")
    THROUGH_AN_ONLINE_ADVERTISEMENT = "through_an_online_advertisement", _("Through an online advertisement")
    THROUGH_A_TELEVISION_ADVERT = "through_a_television_advert", _("Through a television advert")
    THROUGH_A_NEWSPAPER_ADVERT = "through_a_newspaper_advert", _("Through a newspaper advert")
    OTHER = "other", _("Other")


class TraffickerRelation(models.TextChoices):
    """HTCDS ``vic_RelationshipToTrafficker``, refined: HTCDS has only Familial, Acquainted and Unaquainted [sic].

    Each value names the HTCDS code it rolls up to in ``TRAFFICKER_RELATION_TO_HTCDS``. An intimate partner rolls up
    to Acquainted: HTCDS's Familial is read as kin, and a buyer "husband" is recorded by his role, not as family.
    """

    FAMILY_MEMBER = "family_member", _("Family member or relative")  # Familial
    INTIMATE_PARTNER = "intimate_partner", _("Intimate partner")  # Acquainted
    FRIEND = "friend", _("Friend")  # Acquainted
    ACQUAINTANCE = "acquaintance", _("Acquaintance, neighbour")  # Acquainted
    EMPLOYER = "employer", _("Employer")  # Acquainted
    STRANGER = "stranger", _("Stranger")  # Unaquainted


class ChinaProvince(models.TextChoices):
    """China's 31 mainland provincial-level divisions; not an HTCDS list (exported as text in ``hte_State``).

    Values are pinyin slugs; the comment gives the ISO 3166-2:CN code. Hong Kong, Macao and Taiwan are not included.
    """

    ANHUI = "anhui", _("Anhui")  # CN-AH
    BEIJING = "beijing", _("Beijing")  # CN-BJ, municipality
    CHONGQING = "chongqing", _("Chongqing")  # CN-CQ, municipality
    FUJIAN = "fujian", _("Fujian")  # CN-FJ
    GANSU = "gansu", _("Gansu")  # CN-GS
    GUANGDONG = "guangdong", _("Guangdong")  # CN-GD
    GUANGXI = "guangxi", _("Guangxi")  # CN-GX, autonomous region
    GUIZHOU = "guizhou", _("Guizhou")  # CN-GZ
    HAINAN = "hainan", _("Hainan")  # CN-HI
    HEBEI = "hebei", _("Hebei")  # CN-HE
    HEILONGJIANG = "heilongjiang", _("Heilongjiang")  # CN-HL
    HENAN = "henan", _("Henan")  # CN-HA
    HUBEI = "hubei", _("Hubei")  # CN-HB
    HUNAN = "hunan", _("Hunan")  # CN-HN
    NEIMENGGU = "neimenggu", _("Inner Mongolia")  # CN-NM, autonomous region
    JIANGSU = "jiangsu", _("Jiangsu")  # CN-JS
    JIANGXI = "jiangxi", _("Jiangxi")  # CN-JX
    JILIN = "jilin", _("Jilin")  # CN-JL
    LIAONING = "liaoning", _("Liaoning")  # CN-LN
    NINGXIA = "ningxia", _("Ningxia")  # CN-NX, autonomous region
    QINGHAI = "qinghai", _("Qinghai")  # CN-QH
    SHAANXI = "shaanxi", _("Shaanxi")  # CN-SN
    SHANDONG = "shandong", _("Shandong")  # CN-SD
    SHANGHAI = "shanghai", _("Shanghai")  # CN-SH, municipality
    SHANXI = "shanxi", _("Shanxi")  # CN-SX
    SICHUAN = "sichuan", _("Sichuan")  # CN-SC
    TIANJIN = "tianjin", _("Tianjin")  # CN-TJ, municipality
    XIZANG = "xizang", _("Tibet")  # CN-XZ, autonomous region
    XINJIANG = "xinjiang", _("Xinjiang")  # CN-XJ, autonomous region
    YUNNAN = "yunnan", _("Yunnan")  # CN-YN
    ZHEJIANG = "zhejiang", _("Zhejiang")  # CN-ZJ


CHINA_PROVINCES = ChinaProvince


# Episode attribute -> HTCDS 2.0 field name (with prefix), for exports. None: HTCDS has no such field.
# An episode exports as one Historic Trafficking Event with hte_Type "Exploitation" and hte_Country "CN";
# its start month becomes hte_Date (first day of the month). HTCDS has no end date, and no count of sales.
HTCDS_FIELD_NAMES: Final[dict[str, str | None]] = {
    "exploitation_type": "vic_TypeOfExploitation",  # sexual sub-types also fill vic_TypeOfSexExploitation
    "perpetrator_roles": "per_RoleInProcess",
    "control_methods": "vic_MethodsOfControl",
    "recruitment_method": "vic_MethodOfRecruitment",
    "trafficker_relation": "vic_RelationshipToTrafficker",
    "start_month": "hte_Date",
    "end_month": None,
    "province_in_china": "hte_State",
    "times_sold": None,
}


def _pascal(value: str) -> str:
    """``forced_marriage`` -> ``ForcedMarriage``: the HTCDS value name a plain snake_case value came from."""
    return "".join(word.capitalize() for word in value.split("_"))


_SEX_SUBTYPES: Final[dict[str, str]] = {
    ExploitationType.PROSTITUTION: "Prostitution",
    ExploitationType.VENUE_BASED_PROSTITUTION: "Prostitution",
    ExploitationType.PRIVATE_SEXUAL_SERVICES: "PrivateSexualServices",
    ExploitationType.REMOTE_INTERACTIVE_SERVICES: "RemoteInteractiveServices",
    ExploitationType.PORNOGRAPHY: "Pornography",
}

# Our value -> (vic_TypeOfExploitation value, vic_TypeOfSexExploitation value or None).
EXPLOITATION_TYPE_TO_HTCDS: Final[dict[str, tuple[str, str | None]]] = {
    value: ("SexualExploitation", _SEX_SUBTYPES[value]) if value in _SEX_SUBTYPES else (_pascal(value), None)
    for value in ExploitationType.values
}
PERPETRATOR_ROLE_TO_HTCDS: Final[dict[str, str]] = {value: _pascal(value) for value in PerpetratorRole.values}
CONTROL_METHOD_TO_HTCDS: Final[dict[str, str]] = {
    value: "Other" if value in {ControlMethod.RESTRICTS_MOVEMENT, ControlMethod.USES_CHILDREN} else _pascal(value)
    for value in ControlMethod.values
}
RECRUITMENT_METHOD_TO_HTCDS: Final[dict[str, str]] = {value: _pascal(value) for value in RecruitmentMethod.values}
TRAFFICKER_RELATION_TO_HTCDS: Final[dict[str, str]] = {
    TraffickerRelation.FAMILY_MEMBER: "Familial",
    TraffickerRelation.INTIMATE_PARTNER: "Acquainted",
    TraffickerRelation.FRIEND: "Acquainted",
    TraffickerRelation.ACQUAINTANCE: "Acquainted",
    TraffickerRelation.EMPLOYER: "Acquainted",
    TraffickerRelation.STRANGER: "Unaquainted",  # sic: the HTCDS 2.0 spelling
}
