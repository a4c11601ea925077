"""The Sở's units, groups and roles (``units.yaml``) and who an audience word means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.core.escalation import BASE_AUDIENCES


@dataclass(frozen=True, slots=True)
class Head:
    title: str
    emails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnitInfo:
    id: str
    name: str
    emails: tuple[str, ...]
    head: Head | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address and who it is (for the greeting and the subject)."""

    email: str
    name: str  # unit name or head title
    unit: str  # unit id


@dataclass(frozen=True)
class Directory:
    """Units, groups (lists of units or groups) and roles (names for a unit or group)."""

    units: Mapping[str, UnitInfo]
    groups: Mapping[str, tuple[str, ...]]
    roles: Mapping[str, str]
    #: other names of a unit or group (``aliases:`` in units.yaml), for import-plan
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def expand(self, ref: str, _seen: frozenset[str] = frozenset()) -> list[str]:
        """Unit ids that a unit, group or role id stands for, in order, without repeats.

        Raises KeyError for an unknown id; the loader has already checked cycles.
        """
        if ref in self.units:
            return [ref]
        if ref in self.roles:
            return self.expand(self.roles[ref], _seen)
        if ref in self.groups:
            out: list[str] = []
            for member in self.groups[ref]:
                if member in _seen:
                    continue
                for u in self.expand(member, _seen | {ref}):
                    if u not in out:
                        out.append(u)
            return out
        raise KeyError(ref)

    def known(self, ref: str) -> bool:
        return ref in self.units or ref in self.groups or ref in self.roles

    def name_of(self, ref: str) -> str:
        """Human name: a unit's name, else the group's members' names joined."""
        if ref in self.units:
            return self.units[ref].name
        return ", ".join(self.units[u].name for u in self.expand(ref))

    def recipients(
        self, audience: str, lead: str, coordinating: tuple[str, ...]
    ) -> list[Recipient]:
        """Addresses for one audience word of a stage (SPEC §2: escalation audiences)."""
        if audience in ("lead", "lead.head"):
            units = self.expand(lead)
        elif audience in ("coordinating", "coordinating.head"):
            units = [u for c in coordinating for u in self.expand(c)]
        else:
            units = self.expand(audience)
        heads = audience.endswith(".head") and audience in BASE_AUDIENCES
        out: list[Recipient] = []
        for uid in units:
            info = self.units[uid]
            if heads:
                if info.head is not None:
                    out.extend(Recipient(e, info.head.title, uid) for e in info.head.emails)
            else:
                out.extend(Recipient(e, info.name, uid) for e in info.emails)
        return out
