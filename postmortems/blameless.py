"""The blameless language check: warnings (never errors) on sentences that name individuals as
causes — a member's name or e-mail address, "<Name> forgot / failed to / didn't …", a pronoun
or a job title with a blame verb, "human error". A post-mortem asks what in the process or the
system let a sensible person's action cause harm; naming the person stops that question."""

import re
from dataclasses import dataclass

from tenancy.models import Membership, Organization
from tenancy.scoping import org_scope

# After "he", "she", "the engineer": any of these blames the person.
BLAME_VERBS = (
    r"forgot|forgets|forgotten|failed|fails to|didn'?t|did not|neglected|ignored|missed|"
    r"overlooked|should have|shouldn'?t have|messed up|screwed up|broke|caused|was careless|"
    r"made a mistake|made an error|was supposed to"
)
# After a capitalised word (which may be a system: "Redis didn't respond"), only what people do.
_ACTS = (
    r"check|notice|test|follow|read|review|ask|tell|wait|update|verify|escalate|communicate|"
    r"run|think|realise|realize|see|double-check|look"
)
HUMAN_VERBS = (
    r"forgot|forgets|neglected|ignored|overlooked|should(?:n'?t)? have|messed up|screwed up|"
    r"was careless|made a mistake|made an error|was supposed to|(?:didn'?t|did not) bother|"
    rf"failed to (?:{_ACTS})|(?:didn'?t|did not) (?:{_ACTS})"
)
PERSON_WORDS = (
    r"he|she|someone|somebody|the (?:engineer|developer|operator|on-?call(?: engineer)?|admin|"
    r"administrator|intern|new hire|person|contractor|sre|dba)"
)
# Capitalised words that start sentences without naming anybody.
NOT_NAMES = {
    "The", "This", "That", "It", "We", "They", "There", "A", "An", "Our", "Nobody", "No",
    "Monitoring", "Alerting", "Deploy", "Deployment", "Release", "Service", "System", "Nothing",
    "Everyone", "Everybody", "One", "When", "After", "Before", "Then", "If", "Because", "Why",
    "Traffic", "Automation", "He", "She", "Someone", "Somebody", "Pipeline", "Config",
    "Configuration", "Database", "Team",
}  # fmt: skip
BLAME_PHRASES = re.compile(
    r"\b(human error|operator error|user error|careless(?:ness)?|negligen(?:t|ce)|"
    r"(?:his|her) fault|fault of|to blame|blame[sd]?)\b",
    re.IGNORECASE,
)
PERSON_BLAME = re.compile(rf"\b(?:{PERSON_WORDS})\s+(?:{BLAME_VERBS})\b", re.IGNORECASE)
NAME_BLAME = re.compile(rf"\b([A-Z][a-z]+)\s+(?:{HUMAN_VERBS})\b")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_WARNINGS = 20


@dataclass(frozen=True)
class Warning:
    sentence: str
    reason: str

    def __str__(self) -> str:
        return f"“{self.sentence}” — {self.reason}"


def people_of(organization: Organization | int) -> list[tuple[str, str]]:
    """(full name, e-mail) of each member of the organisation."""
    org_id = getattr(organization, "pk", organization)
    with org_scope(org_id):
        return [
            (full_name or "", email)
            for full_name, email in Membership.objects.filter(organization_id=org_id).values_list(
                "user__full_name", "user__email"
            )
        ]


def _name_patterns(people) -> list[tuple[re.Pattern, str]]:
    names, addresses = [], []
    for full_name, email in people:
        name = " ".join(full_name.split())
        if name:
            names.append((re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE), name))
            first = name.split(" ")[0]
            if first != name and len(first) >= 3:
                # Case-sensitive: "Max" the person, not "max" connections.
                names.append((re.compile(rf"\b{re.escape(first)}\b"), first))
        if email:
            addresses.append((re.compile(re.escape(email), re.IGNORECASE), email))
            local = email.split("@")[0]
            if len(local) >= 4 and not local.isdigit():
                addresses.append((re.compile(rf"@?\b{re.escape(local)}\b", re.IGNORECASE), local))
    # Full names before first names, addresses before their local parts: the warning quotes
    # the longest match.
    names.sort(key=lambda item: -len(item[1]))
    addresses.sort(key=lambda item: -len(item[1]))
    patterns = names + addresses
    return patterns


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text or "") if s.strip()]


def check_sentence(sentence: str, patterns) -> str | None:
    """Why `sentence` names a person as a cause, or None."""
    for pattern, label in patterns:
        if pattern.search(sentence):
            return f"names {label}: describe the role, the step or the system instead"
    match = NAME_BLAME.search(sentence)
    if match and match.group(1) not in NOT_NAMES:
        return f"blames {match.group(1)}: ask what made the action easy to get wrong"
    match = PERSON_BLAME.search(sentence)
    if match:
        return f"“{match.group(0)}” blames a person: describe what the process or system allowed"
    match = BLAME_PHRASES.search(sentence)
    if match:
        return f"“{match.group(0)}” assigns blame: name the condition that made it possible"
    return None


def check(text: str, *, people=()) -> list[Warning]:
    """Warnings for each sentence of `text` that names an individual as a cause."""
    patterns = _name_patterns(people)
    warnings = []
    for sentence in sentences(text):
        reason = check_sentence(sentence, patterns)
        if reason:
            warnings.append(Warning(sentence[:200], reason))
            if len(warnings) >= MAX_WARNINGS:
                break
    return warnings


def names_a_person(text: str, *, people=()) -> bool:
    """Whether a 5-Whys answer stops at a person rather than a process or system property."""
    return bool(check(text, people=people))


SECTIONS = (
    "summary",
    "customer_impact",
    "business_impact",
    "detection",
    "response",
    "recovery",
    "contributing_factors",
    "what_went_well",
    "lessons_learned",
)


def check_postmortem(postmortem, *, people=None) -> dict[str, list[Warning]]:
    """Warnings per section of the document (sections without any are left out), plus the
    5 Whys ("whys") and the fishbone causes ("causes")."""
    if people is None:
        people = people_of(postmortem.organization_id)
    result = {}
    for field in SECTIONS:
        warnings = check(getattr(postmortem, field), people=people)
        if warnings:
            result[field] = warnings
    with org_scope(postmortem.organization_id):
        whys = list(postmortem.whys.all())
        causes = list(postmortem.causes.all())
    why_text = "\n".join(f"{w.why}\n{w.because}" for w in whys)
    if warnings := check(why_text, people=people):
        result["whys"] = warnings
    cause_text = "\n".join(c.text for c in causes)
    if warnings := check(cause_text, people=people):
        result["causes"] = warnings
    return result
