from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_src.order import (
    OrderInvalid,
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
