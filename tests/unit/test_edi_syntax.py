"""EDI syntax: the real partner files read exactly, and every kind of damage refused with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.edi.documents import documents
from adapters.edi.syntax import EdiError, parse_interchanges
from tests.conftest import FIXTURES

EDI = FIXTURES / "edi"


def read(name: str) -> bytes:
    return (EDI / name).read_bytes()


def test_real_x12_files_parse_with_their_envelopes() -> None:
    [order] = parse_interchanges(read("x12-850.OK.edi"), "850")
    assert (order.type, order.version, order.control, order.sender) == (
        "850",
        "004010",
        "000000010",
        "ABCDEFGHIJKLMNO",
    )
    assert len(order.segments) == 33  # SE01
    several = parse_interchanges(read("x12-MultipleInterchangesAndGroups.edi"), "multi")
    assert [(m.interchange, m.control) for m in several] == [
        ("000003438", "0001"),
        ("000003438", "0002"),
        ("000003438", "0001"),
        ("000003439", "0001"),
        ("000003439", "0002"),
        ("000003439", "0001"),
    ]
    [warehouse] = parse_interchanges(read("x12-940.OK.edi"), "940")  # newline terminators, none at the end
    assert warehouse.type == "940"


def test_the_856_is_one_document_per_order_with_its_items_as_the_reference_parse_has_them() -> None:
    [notice] = parse_interchanges(read("x12-856.Crossdock.OK.edi"), "856")
    parts = documents(notice)
    assert [p["order"]["PRF"][0][0] for p in parts] == ["POREF00", "POREF01"]
    assert [[line["LIN"][0][2] for line in p["lines"]] for p in parts] == [
        ["0000000000642", "0000000000831", "0000000000283", "0000000000203"],
        ["0000000000642"],
    ]
    # EdiEngine's own parse of the same file (x12-856.Crossdock.OK.json) has the same 13 HL loops.
    reference = (EDI / "x12-856.Crossdock.OK.json").read_text()
    assert reference.count('"Name": "HL"') == sum(1 for s in notice.segments if s.tag == "HL") == 13


def test_edifact_release_characters_and_una_separators_are_honoured() -> None:
    data = (
        "UNA*#.! ~UNB#UNOC*3#SENDER#RECEIVER#200101*1200#7~UNH#1#ORDERS*D*01B*UN~"
        "BGM#220#PO!#1!~2~FTX#AAA###Price 12!*5 and a !# sign~UNT#4#1~UNZ#1#7~"
    ).encode("latin-1")
    [message] = parse_interchanges(data, "una")
    bgm, ftx = message.segments[1], message.segments[2]
    assert bgm.element(2) == "PO#1~2"
    assert ftx.element(4) == "Price 12*5 and a # sign"


def test_the_damaged_character_set_is_refused_with_its_place() -> None:
    with pytest.raises(EdiError) as refused:
        parse_interchanges(read("edifact-ORDERS-D01B-EAN010.edi"), "orders.edi")
    assert refused.value.segment == 7 and refused.value.tag == "NAD" and refused.value.offset == 197
    assert "declares UNOC (latin-1)" in str(refused.value) and "U+FFFD" in str(refused.value)
    repaired = read("edifact-ORDERS-D01B-EAN010.edi").replace(b"\xef\xbf\xbd", b"\xe4")
    [message] = parse_interchanges(repaired, "repaired")
    assert message.type == "ORDERS" and len(message.segments) == 599  # UNT01


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            (b"SE*33*000000010", b"SE*32*000000010"),
            "segment 35 (SE), byte 1032: SE01 counts 32 segments, the transaction set has 33",
        ),
        ((b"GE*1*1421", b"GE*2*1421"), "GE01 counts 2 transaction sets, the group has 1"),
        ((b"IEA*1*000003438", b"IEA*1*000003439"), "IEA02 '000003439' does not match ISA13 '000003438'"),
    ],
)
def test_x12_envelope_damage_names_segment_and_offset(change: tuple[bytes, bytes], expected: str) -> None:
    data = read("x12-850.OK.edi").replace(*change)
    with pytest.raises(EdiError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse_interchanges(data, "850")


def test_a_truncated_interchange_is_refused() -> None:
    with pytest.raises(EdiError, match=r"850, segment 16, byte 487: segment without terminator"):
        parse_interchanges(read("x12-850.OK.edi")[:500], "850")


def test_edifact_message_count_and_unknown_syntax_are_refused() -> None:
    data = read("edifact-DESADV-D96A.edi")
    with pytest.raises(
        EdiError, match=r"segment 22 \(UNT\), byte \d+: UNT01 counts 20 segments, the message has 21"
    ):
        parse_interchanges(data.replace(b"UNT+21+142", b"UNT+20+142"), "desadv")
    with pytest.raises(EdiError, match="UNB with a known syntax identifier expected"):
        parse_interchanges(data.replace(b"UNOC", b"UNOX"), "desadv")
    with pytest.raises(EdiError, match="neither X12"):
        parse_interchanges(b"hello", "junk")


def test_files_are_kept_byte_for_byte() -> None:
    assert Path(EDI / "x12-850.OK.edi").stat().st_size == 1074
