"""Code lists of the member register (GB/T 3304 ethnic groups, education, occupation, dues category)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# The 56 ethnic groups, in GB/T 3304 order; the stored value is the Chinese name, which is what every
# party form and spreadsheet uses.
ETHNIC_GROUPS = [
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族", "布依族", "朝鲜族",
    "满族", "侗族", "瑶族", "白族", "土家族", "哈尼族", "哈萨克族", "傣族", "黎族", "傈僳族",
    "佤族", "畲族", "高山族", "拉祜族", "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族",
    "达斡尔族", "仫佬族", "羌族", "布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族", "阿昌族", "普米族",
    "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族", "鄂温克族", "德昂族", "保安族", "裕固族", "京族", "塔塔尔族",
    "独龙族", "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
]  # fmt: skip
ETHNICITY_CHOICES = [(e, e) for e in ETHNIC_GROUPS]
HAN = "汉族"


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class MemberStatus(models.TextChoices):
    PROBATIONARY = "probationary", _("Probationary member")
    FULL = "full", _("Full member")
    # Not a status a member has any more: see REGISTER_STATUS_CHOICES. Kept for the status history
    # recorded before flowing was told by a flow certificate, so those entries keep their label.
    FLOWING = "flowing", _("Flowing member")
    SUSPENDED = "suspended", _("Membership suspended")
    LEFT = "left", _("Left the Party")
    DECEASED = "deceased", _("Deceased")
    HISTORICAL = "historical", _("Historical member")


class StatusEvent(models.TextChoices):
    """The status events a branch records (issue 3), each one a service in members/services.py."""

    SUSPEND = "suspend", _("Suspend membership (停止党籍)")
    RESTORE = "restore", _("Restore")
    REMOVE = "remove", _("Remove (除名)")
    DEATH = "death", _("Record death")
    HISTORICAL = "historical", _("Keep as a historical record")


# The statuses a member of the register can have. Being a flowing member (流动党员) is not one of them:
# a flowing member keeps their standing, full or probationary (the vote rules need it), and is told by an
# active flow certificate (transfers.FlowCertificate, 流动党员活动证) — the one source of "is flowing".
REGISTER_STATUS_CHOICES = [(v, label) for v, label in MemberStatus.choices if v != MemberStatus.FLOWING]
REGISTER_STATUSES = tuple(v for v, _label in REGISTER_STATUS_CHOICES)

# Statuses counted as current members of an organisation (党内统计公报: counted through the relation).
CURRENT_STATUSES = (MemberStatus.PROBATIONARY, MemberStatus.FULL)

# What a form, an import or the API answers to the status "flowing".
FLOWING_IS_NOT_A_STATUS = _(
    "“Flowing member” is not a status: a flowing member stays a full or probationary member. Issue a "
    "flow certificate (流动党员活动证) on the flowing members page instead."
)


class Education(models.TextChoices):
    DOCTORATE = "doctorate", _("Doctorate")
    MASTER = "master", _("Master's")
    BACHELOR = "bachelor", _("Undergraduate")
    JUNIOR_COLLEGE = "junior_college", _("Junior college")
    SECONDARY_VOCATIONAL = "secondary_vocational", _("Secondary vocational")
    HIGH_SCHOOL = "high_school", _("Senior high school")
    JUNIOR_HIGH_OR_BELOW = "junior_high_or_below", _("Junior high school or below")


# 党内统计公报 reports "junior college or above" (大专及以上) as a national proportion.
HIGHER_EDUCATION = (Education.DOCTORATE, Education.MASTER, Education.BACHELOR, Education.JUNIOR_COLLEGE)


class Degree(models.TextChoices):
    NONE = "none", _("No degree")
    BACHELOR = "bachelor", _("Bachelor")
    MASTER = "master", _("Master")
    DOCTOR = "doctor", _("Doctor")


class Occupation(models.TextChoices):
    WORKER = "worker", _("Worker")
    FARMER = "farmer", _("Farmer, herder or fisher")
    MANAGER = "manager", _("Enterprise or institution manager")
    PROFESSIONAL = "professional", _("Professional or technical staff")
    OFFICIAL = "official", _("Party or government staff")
    STUDENT = "student", _("Student")
    SOLDIER = "soldier", _("Soldier or armed police")
    RETIRED = "retired", _("Retired")
    UNEMPLOYED = "unemployed", _("Unemployed")
    OTHER = "other", _("Other occupation")


class DuesCategory(models.TextChoices):
    EMPLOYED = "employed", _("Employed")
    RETIREE = "retiree", _("Retiree")
    FARMER = "farmer", _("Farmer")
    STUDENT = "student", _("Student")
    UNEMPLOYED = "unemployed", _("Unemployed")
    LOW_INCOME = "low_income", _("Low-income or relief recipient")
    OTHER = "other", _("Other")
