"""Official calendar decisions shipped with hanchot, each with its source.

The ``holidays`` package computes Vietnam's statutory holidays (Bộ luật Lao động 2019,
Điều 112) and the swaps it has been taught. The Government also decides, year by
year, to swap a working weekday with a Saturday for civil servants ("hoán đổi ngày
làm việc"); the package learns of such a decision only in a later release, and an
older installed release never does. The decisions below ship *inside* hanchot, so
that ``hanchot due`` gives the same answer with or without a ``config/calendar.yaml``
and on any ``holidays`` release the bounds in ``pyproject.toml`` allow. Each one is
applied only where the package does not already have it (see
:func:`engine.core.calendar.merge_year`); ``config/calendar.yaml`` is left for local
additions and for overriding these.

:data:`UNSETTLED` names holidays the package gives whose legal status an admin should
confirm against the official notice (``hanchot calendar YEAR`` marks them).

Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Swap:
    """A working weekday made a day off in exchange for a worked weekend day.

    ``document`` is the decision's number (``Công văn số 12729/VPCP-KGVX``); ``url``
    where it was read; ``occasion`` what the swap lengthens (Vietnamese).
    """

    day_off: date
    make_up: date
    occasion: str
    document: str
    url: str = ""

    @property
    def off_title(self) -> str:
        """A short Vietnamese name for ``day_off`` (for lists that cite the document apart)."""
        return (
            f"Nghỉ hoán đổi dịp {self.occasion} "
            f"(làm bù {_weekday(self.make_up)} {self.make_up:%d/%m/%Y})"
        )

    @property
    def make_up_title(self) -> str:
        """A short Vietnamese name for ``make_up``."""
        return f"Làm bù cho ngày {self.day_off:%d/%m/%Y}"

    @property
    def off_name(self) -> str:
        """Why ``day_off`` is not worked, in Vietnamese, citing the decision."""
        return f"{self.off_title} — {self.document}"

    @property
    def make_up_reason(self) -> str:
        """Why ``make_up`` is worked, in Vietnamese, citing the decision."""
        return f"{self.make_up_title} — {self.document}"


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A holiday of the package whose legal basis an admin should confirm.

    Matches package entries whose name starts with ``name`` (the observed day
    ``"... (nghỉ bù)"`` too) from ``since`` on. ``status`` is a short English tag
    (``policy-only``); ``note`` says, in Vietnamese, what to check and how to override.
    """

    name: str
    since: int
    status: str
    note: str


def _weekday(d: date) -> str:
    return ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")[d.weekday()]


#: The Government's swap decisions for civil servants, oldest first. Add a new one
#: here (with its document number) when it is announced; a test per year checks it.
SWAPS: tuple[Swap, ...] = (
    # 30/4 (Tue) and 1/5 (Wed) 2024: Mon 29/4 off, Sat 4/5 worked -> 27/4-1/5 off.
    Swap(
        day_off=date(2024, 4, 29),
        make_up=date(2024, 5, 4),
        occasion="Ngày Chiến thắng 30/4 và Quốc tế Lao động 1/5 năm 2024",
        document="Công văn số 2450/VPCP-KGVX ngày 12/4/2024 của Văn phòng Chính phủ",
        url="https://thuvienphapluat.vn/cong-van/EN/Lao-dong-Tien-luong/"
        "Official-Dispatch-2450-VPCP-KGVX-2024-swap-of-working-days-during-the-"
        "Reunification-Day/606458/tieng-anh.aspx",
    ),
    # 30/4 (Wed) and 1/5 (Thu) 2025: Fri 2/5 off, Sat 26/4 worked -> 30/4-4/5 off.
    Swap(
        day_off=date(2025, 5, 2),
        make_up=date(2025, 4, 26),
        occasion="Ngày Chiến thắng 30/4 và Quốc tế Lao động 1/5 năm 2025",
        document="Thông báo số 6150/TB-BLĐTBXH năm 2024 của Bộ Lao động - Thương binh và "
        "Xã hội, theo Công văn số 8726/VPCP-KGVX năm 2024 của Văn phòng Chính phủ",
        url="https://thuvienphapluat.vn/van-ban/EN/Lao-dong-Tien-luong/"
        "Announcement-6150-TB-BLDTBXH-2024-Lunar-New-Year-in-2025-of-officials-"
        "public-employees/634997/tieng-anh.aspx",
    ),
    # 1/1/2026 (Thu): Fri 2/1 off, Sat 10/1 worked -> 1/1-4/1 off.
    Swap(
        day_off=date(2026, 1, 2),
        make_up=date(2026, 1, 10),
        occasion="Tết Dương lịch 2026",
        document="Công văn số 12729/VPCP-KGVX của Văn phòng Chính phủ",
    ),
    # Quốc khánh 2026: 2/9 (Wed) and 1/9 (Tue) are holidays; Mon 31/8 off, Sat 22/8
    # worked -> 29/8-2/9 off. The document number was not in the source read (the
    # `holidays` package's reference, a thuvienphapluat.vn Q&A page); confirm it.
    Swap(
        day_off=date(2026, 8, 31),
        make_up=date(2026, 8, 22),
        occasion="Quốc khánh 2/9 năm 2026",
        document="văn bản hoán đổi dịp Quốc khánh 2026 (số văn bản cần đối chiếu)",
        url="https://thuvienphapluat.vn/hoi-dap-phap-luat/"
        "lich-nghi-le-quoc-khanh-29-hai-quan-nam-2026-nhu-the-nao-138100727.html",
    ),
)

#: Holidays the package gives on a basis that is not (yet) the Labour Code.
UNSETTLED: tuple[Unsettled, ...] = (
    Unsettled(
        name="Ngày Văn hóa Việt Nam",
        since=2026,
        status="policy-only",
        note=(
            "24/11 được gói holidays tính là ngày nghỉ theo Nghị quyết 80-NQ/TW của Bộ "
            "Chính trị; chưa thấy Bộ luật Lao động sửa đổi đưa ngày này vào Điều 112. "
            "Đối chiếu thông báo nghỉ chính thức; nếu vẫn đi làm, thêm ngày này vào "
            "extra_working_days của config/calendar.yaml."
        ),
    ),
)

__all__ = ["SWAPS", "UNSETTLED", "Swap", "Unsettled"]
