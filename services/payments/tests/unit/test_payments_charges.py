"""Unit tests of payments' charge and refund tables, request schemas and settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shopmesh_payments.api.schemas import ChargeIn, FaultsIn
from shopmesh_payments.domain.charges import (
    CHARGE_TABLE,
    REFUND_TABLE,
    ChargeStatus,
    ChargeVerdict,
    RefundVerdict,
    decide_charge,
    decide_refund,
    refund_answer,
)
from shopmesh_payments.domain.faults import Faults
from shopmesh_payments.settings import Settings

S = ChargeStatus


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        pytest.param(None, ChargeVerdict.ATTEMPT, id="none-attempt"),
        pytest.param(S.DECLINED, ChargeVerdict.ATTEMPT, id="declined-may-try-again"),
        pytest.param(S.CHARGED, ChargeVerdict.EXISTING, id="charged-200-existing"),
        pytest.param(S.REFUNDED, ChargeVerdict.REFUSE, id="refunded-409"),
        pytest.param(S.REFUND_BEFORE_CHARGE, ChargeVerdict.REFUSE, id="tombstone-409"),
    ],
)
def test_charge_table(status: ChargeStatus | None, verdict: ChargeVerdict) -> None:
    assert decide_charge(status) is verdict


@pytest.mark.parametrize(
    ("status", "verdict", "answer_after"),
    [
        pytest.param(None, RefundVerdict.TOMBSTONE, S.REFUND_BEFORE_CHARGE, id="none-tombstone"),
        pytest.param(S.CHARGED, RefundVerdict.REFUND, S.REFUNDED, id="charged-refunded"),
        pytest.param(S.REFUNDED, RefundVerdict.ALREADY, S.REFUNDED, id="refunded-again"),
        pytest.param(S.DECLINED, RefundVerdict.NOTHING, S.DECLINED, id="declined-none"),
        pytest.param(
            S.REFUND_BEFORE_CHARGE, RefundVerdict.NOTHING, S.REFUND_BEFORE_CHARGE, id="tomb-none"
        ),
    ],
)
def test_refund_table(
    status: ChargeStatus | None, verdict: RefundVerdict, answer_after: ChargeStatus
) -> None:
    assert decide_refund(status) is verdict
    expected = "REFUNDED" if verdict in (RefundVerdict.REFUND, RefundVerdict.ALREADY) else "NONE"
    assert refund_answer(answer_after) == expected


def test_tables_cover_every_state() -> None:
    states: set[ChargeStatus | None] = {None, *ChargeStatus}
    assert set(CHARGE_TABLE) == states
    assert set(REFUND_TABLE) == states


CHARGE = {"order_id": "order-1", "customer_id": "cust-1", "amount_cents": 1500}


@pytest.mark.parametrize(
    ("model", "body"),
    [
        pytest.param(ChargeIn, {**CHARGE, "amount_cents": 0}, id="amount-0"),
        pytest.param(ChargeIn, {**CHARGE, "amount_cents": -5}, id="amount-negative"),
        pytest.param(ChargeIn, {**CHARGE, "amount_cents": 100_000_001}, id="amount-too-big"),
        pytest.param(ChargeIn, {**CHARGE, "amount_cents": "1500"}, id="amount-string"),
        pytest.param(ChargeIn, {**CHARGE, "amount_cents": 15.5}, id="amount-float"),
        pytest.param(ChargeIn, {**CHARGE, "order_id": ""}, id="empty-order"),
        pytest.param(ChargeIn, {**CHARGE, "order_id": "a/b"}, id="order-slash"),
        pytest.param(ChargeIn, {**CHARGE, "customer_id": ""}, id="empty-customer"),
        pytest.param(ChargeIn, {**CHARGE, "customer_id": "a b"}, id="customer-space"),
        pytest.param(ChargeIn, {**CHARGE, "currency": "EUR"}, id="unknown-field"),
        pytest.param(ChargeIn, {"order_id": "o-1", "amount_cents": 1}, id="no-customer"),
        pytest.param(FaultsIn, {"decline_rate": 1.5}, id="rate-above-1"),
        pytest.param(FaultsIn, {"error_rate": -0.01}, id="rate-negative"),
        pytest.param(FaultsIn, {"hang_rate": "0.5"}, id="rate-string"),
        pytest.param(FaultsIn, {"hang_rate": True}, id="rate-bool"),
        pytest.param(FaultsIn, {"latency_ms": 60_001}, id="latency-above-60s"),
        pytest.param(FaultsIn, {"latency_ms": 1.5}, id="latency-float"),
        pytest.param(FaultsIn, {"chaos": 1}, id="unknown-knob"),
    ],
)
def test_rejected(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize(
    ("change", "after"),
    [
        pytest.param({}, Faults(0.1, 0.2, 0.3, 40), id="nothing"),
        pytest.param({"error_rate": 0}, Faults(0.1, 0.0, 0.3, 40), id="one-knob"),
        pytest.param(
            {"decline_rate": 1, "error_rate": 0, "hang_rate": 0, "latency_ms": 0},
            Faults(1.0, 0.0, 0.0, 0),
            id="all-knobs",
        ),
    ],
)
def test_faults_update_is_partial(change: dict[str, Any], after: Faults) -> None:
    assert FaultsIn.model_validate(change).apply_to(Faults(0.1, 0.2, 0.3, 40)) == after


def test_settings_read_the_readme_fault_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPMESH_PAYMENTS_DECLINE_RATE", "0.25")
    monkeypatch.setenv("SHOPMESH_PAYMENTS_ERROR_RATE", "0.5")
    monkeypatch.setenv("SHOPMESH_PAYMENTS_HANG_RATE", "1")
    monkeypatch.setenv("SHOPMESH_PAYMENTS_LATENCY_MS", "250")
    settings = Settings()
    assert settings.faults() == Faults(0.25, 0.5, 1.0, 250)
    assert (settings.service_name, settings.database) == ("payments", "payments")


def test_settings_refuse_out_of_range_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPMESH_PAYMENTS_ERROR_RATE", "1.5")
    with pytest.raises(ValidationError):
        Settings()
