"""Build and check the message catalogues (a developer tool; needs Babel, a test extra).

The Vietnamese translations live in ``engine/locale/vi/*.po`` — several files, one per
area, so that translators do not edit one file at once. ``compile`` merges them into
``engine/locale/vi/LC_MESSAGES/hanchot.mo``, the file :mod:`engine.i18n` reads at run
time. ``check`` extracts every ``_()``/``ngettext()`` message id from the source and
reports ids with no translation, translations whose ``{placeholders}`` differ from their
id's, ids translated twice, and whether the ``.mo`` is up to date.

Run as ``python -m engine.i18n_build check|compile|missing``.
"""

from __future__ import annotations

import gettext
import string
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from engine.i18n import DOMAIN, LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("engine", "notifications")
KEYWORDS = {"_": None, "ngettext": (1, 2)}
LANG = "vi"
PO_DIR = LOCALE_DIR / LANG
MO_FILE = PO_DIR / "LC_MESSAGES" / f"{DOMAIN}.mo"
_FIXED_DATE = datetime(2026, 1, 1)


@dataclass(frozen=True)
class Message:
    """One message id found in the source (``plural`` for ``ngettext``)."""

    id: str
    plural: str | None
    where: str


def extract(root: Path = ROOT) -> dict[str, Message]:
    """Every message id used in the source, by id (first place it appears)."""
    found: dict[str, Message] = {}
    for top in SOURCE_DIRS:
        for path in sorted((root / top).rglob("*.py")):
            if path.name == "i18n_build.py":
                continue
            for lineno, msg, _comments, _ctx in extract_from_file("python", path, KEYWORDS):
                singular, plural = (msg, None) if isinstance(msg, str) else (msg[0], msg[1])
                if not singular:
                    continue
                where = f"{path.relative_to(root)}:{lineno}"
                found.setdefault(singular, Message(singular, plural, where))
    return found


def read_catalogues(po_dir: Path = PO_DIR) -> tuple[Catalog, list[str]]:
    """All ``*.po`` files of ``po_dir`` merged into one catalogue, and the conflicts."""
    merged = Catalog(locale=LANG, domain=DOMAIN, creation_date=_FIXED_DATE, fuzzy=False)
    merged.revision_date = _FIXED_DATE
    problems: list[str] = []
    for po in sorted(po_dir.glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=LANG)
        for m in cat:
            if not m.id:
                continue
            old = merged.get(m.id)
            if old is not None and old.string != m.string:
                problems.append(f"{po.name}: {_key(m.id)!r} is translated differently elsewhere")
                continue
            merged.add(m.id, m.string, locations=[(po.name, 0)])
    return merged, problems


def _key(msgid) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _fields(text: str) -> set[str]:
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}
    except ValueError:
        return {"<unbalanced braces>"}


@dataclass
class Report:
    """What :func:`check` found; empty lists mean the catalogue is complete."""

    missing: list[Message] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    stale_mo: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing or self.placeholders or self.conflicts or self.stale_mo)


def check(root: Path = ROOT, po_dir: Path = PO_DIR, mo_file: Path = MO_FILE) -> Report:
    """Compare the source's message ids with the catalogue and the compiled ``.mo``."""
    used = extract(root)
    cat, conflicts = read_catalogues(po_dir)
    report = Report(conflicts=conflicts)
    translated = {_key(m.id): m for m in cat if m.id}
    for msgid, msg in sorted(used.items()):
        entry = translated.get(msgid)
        strings = [] if entry is None else _strings(entry.string)
        if not strings or not all(strings):
            report.missing.append(msg)
            continue
        want = _fields(msgid) | (_fields(msg.plural) if msg.plural else set())
        for s in strings:
            if _fields(s) != want:
                report.placeholders.append(
                    f"{msg.where}: {msgid!r}: translation has {sorted(_fields(s))}, "
                    f"the id has {sorted(want)}"
                )
    report.unused = sorted(set(translated) - set(used))
    report.stale_mo = compiled_messages(mo_file) != expected_messages(cat)
    return report


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return list(value or [])


def expected_messages(cat: Catalog) -> dict:
    """What a correct ``.mo`` of ``cat`` holds, as gettext reads it."""
    out = {}
    for m in cat:
        if not m.id or not m.string:
            continue
        if isinstance(m.id, str):
            out[m.id] = m.string
        else:
            for i, s in enumerate(m.string):
                out[(m.id[0], i)] = s
    return out


def compiled_messages(mo_file: Path = MO_FILE) -> dict:
    """The messages of the compiled ``.mo`` (without its header), or ``{}`` if absent."""
    if not mo_file.exists():
        return {}
    with mo_file.open("rb") as fh:
        trans = gettext.GNUTranslations(fh)
    return {k: v for k, v in trans._catalog.items() if k != "" and k != ("", 0)}


def compile_mo(po_dir: Path = PO_DIR, mo_file: Path = MO_FILE) -> int:
    """Write the merged ``.mo``; return how many messages it holds."""
    cat, conflicts = read_catalogues(po_dir)
    if conflicts:
        raise SystemExit("\n".join(conflicts))
    mo_file.parent.mkdir(parents=True, exist_ok=True)
    with mo_file.open("wb") as fh:
        write_mo(fh, cat)
    return sum(1 for m in cat if m.id)


def write_missing(report: Report, out: Path) -> None:
    """A ``.po`` stub with the untranslated ids, for a translator to fill in."""
    cat = Catalog(locale=LANG, domain=DOMAIN, creation_date=_FIXED_DATE)
    for m in report.missing:
        msgid = m.id if m.plural is None else (m.id, m.plural)
        cat.add(msgid, "" if m.plural is None else ("", ""), locations=[(m.where, 0)])
    with out.open("wb") as fh:
        write_po(fh, cat, omit_header=True, width=100)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "compile":
        print(f"{compile_mo()} messages → {MO_FILE.relative_to(ROOT)}")
        return 0
    report = check()
    if cmd == "missing":
        out = Path(argv[1]) if len(argv) > 1 else Path("missing.po")
        write_missing(report, out)
        print(f"{len(report.missing)} untranslated ids → {out}")
        return 0
    for m in report.missing:
        print(f"{m.where}: no Vietnamese translation for {m.id!r}")
    for line in report.placeholders + report.conflicts:
        print(line)
    if report.stale_mo:
        print(f"{MO_FILE.relative_to(ROOT)} is out of date: python -m engine.i18n_build compile")
    if report.unused:
        print(f"({len(report.unused)} translations no longer used)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
