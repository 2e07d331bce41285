"""The webhook repository's contract, for every store (memory, SQLite, PostgreSQL; ADR 0034).

A webhook and a delivery round-trip exactly; a delivery changes only by `Delivery`'s
transitions: claimed when due (or when its lease lapsed), finished only under the token
that claimed it; claimers racing on their own connections never take one delivery twice.
The delivery log is purged past its retention, never a delivery still to be attempted.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from support.stores import StoreUnderTest

from partner_ingest.adapters_out.memory import FakeClock
from partner_ingest.domain.model.errors import ConflictError, InvalidError
from partner_ingest.domain.model.webhooks import Delivery, DeliveryStatus, Webhook, WebhookEvent
from partner_ingest.domain.use_cases.retention import PurgeWebhookDeliveries

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def hook(partner_id: str = "acme") -> Webhook:
    return Webhook(partner_id, "https://hooks.example/in?t=1", "cipher-1", created_at=T0, updated_at=T0)


def delivery(delivery_id: str, *, partner_id: str = "acme", at: datetime = T0) -> Delivery:
    return Delivery(
        id=delivery_id,
        partner_id=partner_id,
        event=WebhookEvent.IMPORT_COMPLETED,
        payload='{"type":"import.completed","data":{"feed_id":"f1"}}',
        created_at=at,
        available_at=at,
    )


def add(store: StoreUnderTest, *deliveries: Delivery) -> None:
    with store.unit_of_work() as uow:
        for d in deliveries:
            uow.webhooks.add_delivery(d)
        uow.commit()


def claim(store: StoreUnderTest, now: datetime, token: str) -> Delivery | None:
    with store.unit_of_work() as uow:
        claimed = uow.webhooks.claim_delivery(now, LEASE, token)
        uow.commit()
    return claimed


def finish(store: StoreUnderTest, token: str, finished: Delivery) -> bool:
    with store.unit_of_work() as uow:
        done = uow.webhooks.finish_delivery(token, finished)
        uow.commit()
    return done


def stored(store: StoreUnderTest, delivery_id: str) -> Delivery | None:
    with store.unit_of_work(read_only=True) as uow:
        return uow.webhooks.delivery(delivery_id)


def test_a_webhook_round_trips_is_replaced_and_removed(store: StoreUnderTest) -> None:
    rotated = attrs.evolve(
        hook(),
        previous_secret="cipher-0",
        previous_until=T0 + timedelta(hours=24),
        enabled=False,
        failures=7,
        disabled_at=T0 + timedelta(minutes=5),
        disabled_reason="7 delivery attempts in a row failed",
    )
    with store.unit_of_work() as uow:
        assert uow.webhooks.get("acme") is None
        uow.webhooks.put(hook())
        uow.webhooks.put(hook("beta"))
        uow.commit()
    with store.unit_of_work() as uow:
        uow.webhooks.put(rotated)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.webhooks.get("acme") == rotated
        assert [h.partner_id for h in uow.webhooks.all()] == ["acme", "beta"]
    with store.unit_of_work() as uow:
        assert uow.webhooks.remove("acme")
        assert not uow.webhooks.remove("acme")
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.webhooks.get("acme") is None


def test_a_delivery_round_trips_and_a_second_with_its_id_is_refused(store: StoreUnderTest) -> None:
    add(store, delivery("msg-1"))
    assert stored(store, "msg-1") == delivery("msg-1")
    with store.unit_of_work() as uow, pytest.raises(ConflictError, match="exists already"):
        uow.webhooks.add_delivery(delivery("msg-1"))


def test_the_claim_takes_the_due_delivery_first_and_finishing_needs_its_token(store: StoreUnderTest) -> None:
    add(
        store,
        delivery("msg-b", at=T0 + timedelta(seconds=1)),
        delivery("msg-a"),
        delivery("msg-later", at=T0 + timedelta(hours=1)),
    )
    first = claim(store, T0 + timedelta(seconds=2), "tok-1")
    assert first is not None
    assert first == delivery("msg-a").claim(T0 + timedelta(seconds=2), LEASE, "tok-1")
    second = claim(store, T0 + timedelta(seconds=2), "tok-2")
    assert second is not None and second.id == "msg-b"
    assert claim(store, T0 + timedelta(seconds=2), "tok-3") is None  # msg-later is not due

    delivered = first.succeed("tok-1", T0 + timedelta(seconds=3), 204)
    assert delivered is not None
    assert not finish(store, "tok-2", delivered)  # another attempt's token
    assert finish(store, "tok-1", delivered)
    assert stored(store, "msg-a") == delivered
    assert not finish(store, "tok-1", delivered)  # no longer delivering

    retry = second.fail("tok-2", T0 + timedelta(minutes=1), 500, "http_error: answered 500")
    assert retry is not None and finish(store, "tok-2", retry)
    assert claim(store, T0 + timedelta(seconds=59), "tok-4") is None
    again = claim(store, T0 + timedelta(minutes=1), "tok-5")
    assert again is not None and again.id == "msg-b" and again.attempts == 2 and again.last_status == 500


def test_a_lapsed_lease_lets_another_worker_claim_and_the_first_token_no_longer_holds(
    store: StoreUnderTest,
) -> None:
    add(store, delivery("msg-1"))
    first = claim(store, T0, "tok-1")
    assert first is not None
    assert claim(store, T0 + LEASE - timedelta(microseconds=1), "tok-2") is None
    taken = claim(store, T0 + LEASE, "tok-2")
    assert taken is not None and taken.attempts == 2 and taken.lease_token == "tok-2"
    late = first.fail("tok-1", None, None, "timeout")
    assert late is not None and not finish(store, "tok-1", late)
    gave_up = taken.fail("tok-2", None, None, "timeout")
    assert gave_up is not None and finish(store, "tok-2", gave_up)
    assert stored(store, "msg-1") == gave_up and gave_up.status is DeliveryStatus.FAILED
    assert claim(store, T0 + timedelta(days=2), "tok-3") is None


def test_the_log_is_newest_first_per_partner(store: StoreUnderTest) -> None:
    add(
        store,
        delivery("msg-1"),
        delivery("msg-2", at=T0 + timedelta(seconds=1)),
        delivery("msg-3", partner_id="beta", at=T0 + timedelta(seconds=2)),
    )
    with store.unit_of_work(read_only=True) as uow:
        assert [d.id for d in uow.webhooks.deliveries("acme")] == ["msg-2", "msg-1"]
        assert [d.id for d in uow.webhooks.deliveries(limit=2)] == ["msg-3", "msg-2"]


def finished(delivery_id: str, status: DeliveryStatus, *, at: datetime, partner_id: str = "acme") -> Delivery:
    done = attrs.evolve(delivery(delivery_id, partner_id=partner_id, at=at), status=status, attempts=1)
    return attrs.evolve(done, delivered_at=at) if status is DeliveryStatus.DELIVERED else done


def test_the_purge_deletes_finished_deliveries_before_the_instant_oldest_first_never_open_ones(
    store: StoreUnderTest,
) -> None:
    day = timedelta(days=1)
    add(
        store,
        finished("old-delivered", DeliveryStatus.DELIVERED, at=T0 - 3 * day),
        finished("old-failed", DeliveryStatus.FAILED, at=T0 - 2 * day, partner_id="beta"),
        delivery("old-pending", at=T0 - 5 * day),
        attrs.evolve(
            delivery("old-delivering", at=T0 - 4 * day),
            status=DeliveryStatus.DELIVERING,
            attempts=1,
            lease_token="tok",
            lease_until=T0 + LEASE,
        ),
        finished("recent", DeliveryStatus.DELIVERED, at=T0 + timedelta(seconds=1)),
    )
    with store.unit_of_work() as uow:
        assert uow.webhooks.purge_deliveries(T0, limit=1) == 1  # the oldest finished one first
        uow.commit()
    assert stored(store, "old-delivered") is None and stored(store, "old-failed") is not None
    with store.unit_of_work() as uow:
        assert uow.webhooks.purge_deliveries(T0) == 1
    assert stored(store, "old-failed") is not None  # not committed: rolled back with its unit of work
    with store.unit_of_work() as uow:
        assert uow.webhooks.purge_deliveries(T0) == 1
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        left = {d.id for d in uow.webhooks.deliveries(limit=10)}
    assert left == {"old-pending", "old-delivering", "recent"}


def test_the_retention_purge_empties_the_log_past_it_in_batches(store: StoreUnderTest) -> None:
    day = timedelta(days=1)
    add(
        store,
        *(
            finished(f"msg-{n}", DeliveryStatus.DELIVERED, at=T0 - 10 * day + timedelta(seconds=n))
            for n in range(5)
        ),
    )
    add(store, finished("kept", DeliveryStatus.FAILED, at=T0 - 6 * day), delivery("open", at=T0 - 30 * day))
    purge = PurgeWebhookDeliveries(store.unit_of_work, FakeClock(T0), retention_days=7, batch=2)
    assert purge() == 5
    with store.unit_of_work(read_only=True) as uow:
        assert {d.id for d in uow.webhooks.deliveries(limit=10)} == {"kept", "open"}
    assert purge() == 0
    with pytest.raises(InvalidError, match="at least 1 day"):
        PurgeWebhookDeliveries(store.unit_of_work, FakeClock(T0), retention_days=0)


def test_claimers_racing_never_take_one_delivery_twice(store: StoreUnderTest) -> None:
    add(store, *(delivery(f"msg-{n:02d}", at=T0 + timedelta(microseconds=n)) for n in range(24)))
    taken: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (claimed := claim(store, T0 + timedelta(seconds=1), name)) is not None:
            with lock:
                taken.append(claimed.id)

    threads = [threading.Thread(target=work, args=(f"tok-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken) == [f"msg-{n:02d}" for n in range(24)]
