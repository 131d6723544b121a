from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_src.order import (
    DuplicateKey,
    OrderInvalid,
    loads_strict,
    new_order,
    new_order_id,
    order_from_message,
    parse_amount,
    parse_order,
    payment_approved,
)


@pytest.mark.parametrize(
    "value, expected",
    [
        (100, Decimal("100")),
        ("12.50", Decimal("12.50")),
        (0.01, Decimal("0.01")),
        ("9999.99", Decimal("9999.99")),
        (12.5, Decimal("12.5")),
    ],
)
def test_amount_accepts_numbers_and_decimal_strings(value: object, expected: Decimal) -> None:
    assert parse_amount(value) == expected


@pytest.mark.parametrize(
    "value, words",
    [
        (0, "greater than 0"),
        (-5, "greater than 0"),
        ("-1", "greater than 0"),
        (10000, "less than 10000"),
        ("10000.00", "less than 10000"),
        ("1.234", "2 decimal"),
        ("1e3", "plain decimal"),
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (True, "number"),
        (None, "number"),
        ("abc", "plain decimal"),
        ("", "plain decimal"),
        ([1], "number"),
    ],
)
def test_amount_rejects_with_the_rule_named(value: object, words: str) -> None:
    with pytest.raises(OrderInvalid) as err:
        parse_amount(value)
    assert err.value.field == "amount"
    assert words in err.value.message


def test_original_readme_workflow_input_is_valid_inside_the_pipeline() -> None:
    order = order_from_message({"order": {"orderId": "test-123", "amount": 100}})
    assert order.order_id == "test-123" and order.customer_name is None


@pytest.mark.parametrize("field", ["customerName", "product"])
def test_person_fields_required_where_a_person_enters_the_order(field: str) -> None:
    data = {"orderId": "a", "customerName": "Ann", "product": "Pen", "amount": 1}
    del data[field]
    with pytest.raises(OrderInvalid) as err:
        parse_order(data, person=True)
    assert err.value.field == field


@pytest.mark.parametrize("order_id", ["", "a" * 81, "has space", "semi;colon", None, 5])
def test_order_id_rules(order_id: object) -> None:
    with pytest.raises(OrderInvalid) as err:
        parse_order({"orderId": order_id, "amount": 1}, person=False)
    assert err.value.field == "orderId"


@pytest.mark.parametrize("text", ["", "   ", "x" * 101, "tab\there", "bell\x07"])
def test_text_fields_are_1_to_100_printable_characters(text: str) -> None:
    with pytest.raises(OrderInvalid) as err:
        parse_order(
            {"orderId": "a", "customerName": text, "product": "p", "amount": 1}, person=True
        )
    assert err.value.field == "customerName"


def test_wire_form_round_trips() -> None:
    order = new_order("Ada", "Book", "12.50")
    again = order_from_message(order.message())
    assert again == order
    assert order.message()["order"]["amount"] == 12.5


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2))
def test_every_valid_amount_survives_the_wire(amount: Decimal) -> None:
    order = parse_order({"orderId": "x", "amount": str(amount)}, person=False)
    assert order_from_message(order.message()).amount == amount


@given(st.text(max_size=30))
def test_amount_parser_never_raises_anything_but_order_invalid(text: str) -> None:
    try:
        value = parse_amount(text)
    except OrderInvalid:
        return
    assert Decimal(0) < value < Decimal(10000)


def test_order_ids_are_unique_sortable_and_valid() -> None:
    ids = [new_order_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    parse_order({"orderId": ids[0], "amount": 1}, person=False)


def test_seeded_payment_is_a_pure_function_of_seed_and_order_id() -> None:
    first = [payment_approved(f"o{i}", 0.5, 7) for i in range(200)]
    assert first == [payment_approved(f"o{i}", 0.5, 7) for i in range(200)]
    assert first != [payment_approved(f"o{i}", 0.5, 8) for i in range(200)]
    assert 60 < sum(first) < 140


@pytest.mark.parametrize("rate, expected", [(0.0, 0), (1.0, 100)])
def test_payment_rate_extremes(rate: float, expected: int) -> None:
    assert sum(payment_approved(f"o{i}", rate, 1) for i in range(100)) == expected


# -- the hostile corpus (issue 10, item 6) ----------------------------------------------------
@pytest.mark.parametrize("order_id", ["x\n", "x\r\n", "\nx", "x\x00", "x\u2028", "ok id"])
def test_order_id_is_a_full_match(order_id: str) -> None:
    with pytest.raises(OrderInvalid) as err:
        parse_order({"orderId": order_id, "amount": 1}, person=False)
    assert err.value.field == "orderId"


@pytest.mark.parametrize(
    "json_amount, words",
    [
        ("1e3", "no exponent"),
        ("1E3", "no exponent"),
        ("1.5e2", "no exponent"),
        ("-0", "greater than 0"),
        ("-0.0", "greater than 0"),
        ("12.30000000000000001", "at most 2 decimal places"),
        ("true", "must be a number"),
        ("null", "must be a number"),
        ("[12]", "must be a number"),
        ('{"v": 1}', "must be a number"),
        ("1" * 5000, "less than 10000"),
    ],
)
def test_json_amounts_meet_the_rule_as_written(json_amount: str, words: str) -> None:
    """JSON read with loads_strict keeps numbers as written: 1e3 is refused like "1e3"."""
    message = loads_strict('{"order": {"orderId": "a", "amount": ' + json_amount + "}}")
    with pytest.raises(OrderInvalid) as err:
        order_from_message(message)
    assert err.value.field == "amount" and words in err.value.message


def test_strict_json_refuses_duplicate_keys_and_non_numbers() -> None:
    with pytest.raises(DuplicateKey, match="'amount'"):
        loads_strict('{"amount": 1, "amount": 2}')
    for text in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError):
            loads_strict(text)
    with pytest.raises(RecursionError):
        loads_strict("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    "name",
    [
        "می‌رزا",  # Persian, with a zero-width non-joiner
        "ශ්‍රී",  # Sinhala, with a zero-width joiner
        "👩‍💻 Dev",  # an emoji ZWJ sequence
        "Zoë Ångström",
        "山田 太郎",
        "Иван Петров",
        "محمد",
        "שלום",
        "नमस्ते",
        "Jean\u00a0Dupont",  # no-break space
        "ᏣᎳᎩ",
    ],
)
def test_names_in_every_script_are_accepted(name: str) -> None:
    assert new_order(name, name, "1").customer_name == name


@pytest.mark.parametrize(
    "name, words",
    [
        ("evil\u202ename", "U+202E"),  # right-to-left override
        ("a\u2066b", "U+2066"),  # left-to-right isolate
        ("a\u200fb", "U+200F"),  # right-to-left mark
        ("a\x00b", "U+0000"),
        ("a\x1bb", "U+001B"),
        ("a\u2028b", "U+2028"),
        ("a\u2029b", "U+2029"),
        ("a\ufeffb", "U+FEFF"),
        ("a\u200bb", "U+200B"),  # zero-width space
        ('=HYPERLINK("x")', "formula"),
        ("+1+1", "formula"),
        ("@SUM(A1)", "formula"),
    ],
)
def test_control_bidi_and_formula_text_is_rejected(name: str, words: str) -> None:
    with pytest.raises(OrderInvalid) as err:
        new_order(name, "p", "1")
    assert err.value.field == "customerName" and words in err.value.message
