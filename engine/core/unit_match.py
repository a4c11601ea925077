"""Match the unit words of a plan's cells ("VP", "Các phòng chuyên môn có liên quan")
to the ids of ``units.yaml``.

Names are compared after a Vietnamese-aware normalisation (:func:`unit_key`):
no diacritics, no "Sở"/"các"/"của"/"có liên quan", no leading "Phòng", the usual
abbreviations spelt out (VP, CCHC, TTHC, UBND, QLTM-XNK...). A unit is known by
its id, its name and its ``aliases:``; a group by its id and its aliases.

Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from engine.core.plan_phrases import EXACT, INFERRED, TODO, fold
from engine.core.units import Directory
from engine.i18n import _

#: Abbreviations of Vietnamese administration, spelt out before comparing.
ABBREVIATIONS = {
    "vp": "van phong",
    "cchc": "cai cach hanh chinh",
    "tthc": "thu tuc hanh chinh",
    "ubnd": "uy ban nhan dan",
    "hdnd": "hoi dong nhan dan",
    "qltm": "quan ly thuong mai",
    "xnk": "xuat nhap khau",
    "qlcn": "quan ly cong nghiep",
    "qlnl": "quan ly nang luong",
    "ktat": "ky thuat an toan",
    "mt": "moi truong",
    "vbqppl": "van ban quy pham phap luat",
    "bgd": "ban giam doc",
}
_DROP_PHRASES = ("co lien quan", "lien quan", "thuoc so", "cua so")
_DROP_WORDS = {"so", "cac", "cua", "nhung"}


def unit_key(text: str) -> str:
    """The comparable form of a unit name: ``"Văn phòng Sở"`` → ``"van phong"``."""
    s = fold(re.sub(r"\([^)]*\)", " ", text))
    words = []
    for w in re.findall(r"[a-z0-9]+", s):
        words.extend(ABBREVIATIONS.get(w, w).split())
    s = " " + " ".join(words) + " "
    for p in _DROP_PHRASES:
        s = s.replace(" " + p + " ", " ")
    words = [w for w in s.split() if w not in _DROP_WORDS]
    if len(words) > 1 and words[0] == "phong":
        words = words[1:]
    return " ".join(words)


@dataclass(frozen=True, slots=True)
class UnitMatch:
    """The ids one cell names, how sure, why; ``unknown`` lists what matched nothing
    as (words, closest candidate ids)."""

    ids: tuple[str, ...]
    certainty: str
    reason: str
    unknown: tuple[tuple[str, tuple[str, ...]], ...] = ()


def split_units(cell: str) -> list[str]:
    """The unit names of one cell: split on commas, semicolons, "và", bullets, lines."""
    parts = re.split(r"[,;\n]|\s+-\s+|^\s*-\s*|\s+và\s+|\s+với\s+", cell)
    return [p.strip(" .-") for p in parts if p and p.strip(" .-")]


class UnitMatcher:
    """Match cell text against the directory's units, groups and aliases."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.keys: dict[str, str] = {}
        for uid, info in directory.units.items():
            self.keys.setdefault(unit_key(uid.replace("-", " ")), uid)
            self.keys.setdefault(unit_key(info.name), uid)
        for gid in directory.groups:
            self.keys.setdefault(unit_key(gid.replace("-", " ")), gid)
        for ref, names in directory.aliases.items():
            for name in names:
                # An alias an admin wrote wins over a derived name.
                self.keys[unit_key(name)] = ref

    def candidates(self, words: str, n: int = 3) -> tuple[str, ...]:
        """Closest unit or group ids, best first (for a ``TODO:`` of an unknown name)."""
        near = difflib.get_close_matches(unit_key(words), list(self.keys), n=n * 2, cutoff=0.3)
        out: list[str] = []
        for k in near:
            if self.keys[k] not in out:
                out.append(self.keys[k])
        return tuple(out[:n])

    def _one(self, part: str) -> tuple[str | None, str, str]:
        key = unit_key(part)
        if not key:
            return None, TODO, ""
        if key in self.keys:
            return self.keys[key], EXACT, ""
        # "Văn phòng Sở thực hiện theo hướng dẫn của VP UBND tỉnh": the longest known
        # name the cell starts with; the rest is a note for the reviewer.
        best = None
        for k, ref in self.keys.items():
            if (key + " ").startswith(k + " ") and (best is None or len(k) > len(best[0])):
                best = (k, ref)
        if best is not None:
            why = _("{part!r} read as {ref!r} (the rest is a note)").format(part=part, ref=best[1])
            return best[1], INFERRED, why
        return None, TODO, ""

    def match(self, cell: str) -> UnitMatch:
        """Every unit or group ``cell`` names; an empty cell gives no ids (``exact``)."""
        if not cell.strip():
            return UnitMatch((), EXACT, _("empty cell"))
        whole, how, why = self._one(cell)
        if whole is not None and how == EXACT:
            return UnitMatch((whole,), EXACT, _("{part!r} is {ref!r}").format(part=cell, ref=whole))
        ids: list[str] = []
        unknown: list[tuple[str, tuple[str, ...]]] = []
        worst = EXACT
        reasons: list[str] = []
        for part in split_units(cell):
            ref, how, why = self._one(part)
            if ref is None:
                unknown.append((part, self.candidates(part)))
                worst = TODO
                continue
            if ref not in ids:
                ids.append(ref)
            if how == INFERRED and worst == EXACT:
                worst = INFERRED
            reasons.append(why or _("{part!r} is {ref!r}").format(part=part, ref=ref))
        if unknown:
            reasons += [
                _("{part!r} matches no unit (closest: {closest})").format(
                    part=w, closest=", ".join(c) or "-"
                )
                for w, c in unknown
            ]
        return UnitMatch(tuple(ids), worst, "; ".join(reasons), tuple(unknown))

    def as_lead(self, m: UnitMatch) -> UnitMatch:
        """One lead id: several units become the group that has exactly them, if any."""
        if len(m.ids) <= 1 or m.unknown:
            return m
        want = {u for r in m.ids for u in self.directory.expand(r)}
        for gid in self.directory.groups:
            if set(self.directory.expand(gid)) == want:
                return UnitMatch(
                    (gid,),
                    INFERRED,
                    _("{reason}; together they are the group {group!r}").format(
                        reason=m.reason, group=gid
                    ),
                )
        return UnitMatch(
            (),
            TODO,
            _(
                "{reason}; a rule has one lead and no group has exactly "
                "{units}: add such a group to units.yaml"
            ).format(reason=m.reason, units=", ".join(m.ids)),
            ((", ".join(m.ids), m.ids),),
        )
