"""Page benchmark: render time of every portal and console page with 100,000 products and 10,000 imports stored.

    .venv/bin/python benchmarks/pages_benchmark.py              # 100,000 products, 10,000 imports, 200 renders a page
    .venv/bin/python benchmarks/pages_benchmark.py --quick      # 10,000 products, 1,000 imports, 50 renders

A hundredth of the products are retired and a snapshot is held by the mass-delete guard
(another one discarded), so the retired products, the held import and the held snapshots
list their real rows. The store is the embedded default (a SQLite file, as `serve` builds it). One partner
holds every product (one ingest of a JSON Lines feed) and every import: a real
feed with rejected items, and its import copied under new ids and earlier times
(added in one unit of work), so every listed report carries its errors (the
worst case for the overview) and the diagnostics page groups real ones. Each page is
requested through the whole ASGI app (middleware, session admission through the
access guard, use cases, template) with a signed-in session, in process, and its
p50 and p95 wall time printed; the target is p95 < 50 ms. Nothing here asserts
(benchmarks inform, tests decide).
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import attrs
from starlette.testclient import TestClient

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.http import create_app
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.partner import Partner
from partner_ingest.domain.use_cases import FeedSubmission

TARGET_MS = 50.0
PARTNER = "bench"


def feed(products: int, *, bad_every: int = 0) -> bytes:
    lines = []
    for i in range(products):
        price = '"oops"' if bad_every and i % bad_every == 0 else f"{10 + i % 90}.{i % 100:02d}"
        lines.append(
            f'{{"sku": "SKU-{i:07d}", "name": "Product {i}", "price": {price}, "currency": "EUR", "quantity": {i % 50}}}'
        )
    return ("\n".join(lines) + "\n").encode()


def populate(app: bootstrap.Application, products: int, imports: int) -> str:
    """Store the products and imports; the id of the latest import (which has rejected items)."""
    now = app.clock.now()
    with app.uow() as uow:
        uow.partners.add(Partner(id=PARTNER, name="Benchmark partner", created_at=now))
        uow.commit()
    started = time.perf_counter()
    stored = app.ingest(
        FeedSubmission(partner_id=PARTNER, body=io.BytesIO(feed(products)), media_type="application/x-ndjson")
    )
    assert stored.counts.created == products, stored.counts
    print(f"stored {products:,} products in {time.perf_counter() - started:.1f} s")
    last = app.ingest(
        FeedSubmission(
            partner_id=PARTNER, body=io.BytesIO(feed(500, bad_every=7)), media_type="application/x-ndjson"
        )
    )
    template = app.imports.recent(PARTNER, limit=1)[0]
    with app.uow() as uow:
        for n in range(imports - 2):
            moment = now - timedelta(minutes=imports - n)
            uow.imports.add(
                attrs.evolve(
                    template,
                    id=f"feed-bench-{n:06d}",
                    received_at=moment,
                    completed_at=moment,
                    content_hash=f"{n:064x}",
                    idempotency_key=None,
                    fingerprint=None,
                )
            )
        uow.commit()
    print(f"stored {imports:,} imports; the latest has {last.counts.rejected} rejected items")
    return last.feed_id


def lifecycle(app: bootstrap.Application, products: int) -> tuple[str, str]:
    """Retire a hundredth of the catalog (items asking `_delete`), then send two snapshots naming a
    few products: the mass-delete guard holds both; one is discarded. (held id, discarded id)."""
    gone = b"".join(f'{{"sku": "SKU-{i:07d}", "_delete": true}}\n'.encode() for i in range(0, products, 100))
    app.ingest(FeedSubmission(partner_id=PARTNER, body=io.BytesIO(gone), media_type="application/x-ndjson"))
    held = [
        app.ingest(
            FeedSubmission(
                partner_id=PARTNER,
                body=io.BytesIO(feed(size)),
                media_type="application/x-ndjson",
                feed_mode=FeedMode.SNAPSHOT,
            )
        )
        for size in (10, 20)
    ]
    assert all(str(report.status) == "held" for report in held), [r.status for r in held]
    app.held_feeds.discard(held[1].feed_id, actor="bench")
    print(f"retired {products // 100:,} products; held 2 snapshots, discarded one")
    return held[0].feed_id, held[1].feed_id


def signed_in(client: TestClient, area: str, key: str) -> None:
    form = client.get(f"/{area}/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        f"/{area}/sign-in", data={"csrf_token": token.group(1), "api_key": key}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def measure(client: TestClient, path: str, rounds: int) -> tuple[float, float]:
    for _ in range(3):  # warm the template cache and SQLite's page cache
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="10,000 products, 1,000 imports, 50 renders a page"
    )
    args = parser.parse_args()
    products, imports, rounds = (10_000, 1_000, 50) if args.quick else (100_000, 10_000, 200)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite:///{Path(folder) / 'pages.db'}",
            rate_limit_per_minute=10**9,
            admin_rate_limit_per_minute=10**9,
            parser_processes=0,
        )
        app = bootstrap.build(settings)
        try:
            latest = populate(app, products, imports)
            held, discarded = lifecycle(app, products)
            partner_key = app.keys.create(KeyRole.PARTNER, PARTNER, actor="bench").plaintext
            admin_key = app.keys.create(KeyRole.ADMIN, actor="bench").plaintext
            # A webhook with a full delivery log and a run schedule, so their pages list something.
            app.webhooks.set(PARTNER, "https://bench.hooks.example/events", actor="bench")
            for _ in range(25):
                app.webhooks.send_test(PARTNER, actor="bench")
            schedule = app.schedules.create(PARTNER, actor="bench", interval_seconds=3600)
            app.pull_feeds.run_now(schedule.id, actor="bench")
            web = create_app(app)
            portal, console = TestClient(web), TestClient(web)
            signed_in(portal, "portal", partner_key)
            signed_in(console, "console", admin_key)
            pages = [
                (portal, "/portal"),
                (portal, "/portal/check"),
                (portal, f"/portal/imports/{latest}"),
                (portal, "/portal/products"),
                (portal, f"/portal/products?q=SKU-{products // 2:07d}"),
                (portal, "/portal/products?after=SKU-0090000"),
                # By name: a common word (stops at the page's LIMIT at once), and a rare one (the
                # scan walks the partner's whole catalog for its few matches: the worst case).
                (portal, "/portal/products?by=name&q=product+1"),
                (portal, f"/portal/products?by=name&q=product+{products - 1}"),
                (portal, "/portal/products?by=name&q=no+such+name"),
                (portal, "/portal/products?retired=true"),
                (portal, f"/portal/products?retired=true&q=SKU-{products // 2:07d}"),
                (portal, f"/portal/imports/{held}"),
                (portal, "/portal/products/status?sku=SKU-0000007"),
                (portal, "/portal/webhook"),
                (portal, "/portal/contract"),
                (console, "/console"),
                (console, "/console/partners"),
                (console, f"/console/partners/{PARTNER}"),
                (console, "/console/keys"),
                (console, "/console/jobs"),
                (console, "/console/schedules"),
                (console, "/console/imports/held"),
                (console, f"/console/imports/held?settled={discarded}&partner_id={PARTNER}"),
                (console, "/console/circuits"),
                (console, "/console/webhooks"),
                (console, "/console/contract"),
                (console, f"/console/audit?partner_id={PARTNER}"),
                (portal, "/docs"),
            ]
            print(f"\n{'page':<44} {'p50 ms':>8} {'p95 ms':>8}  target p95 < {TARGET_MS:.0f} ms")
            worst = 0.0
            for client, path in pages:
                p50, p95 = measure(client, path, rounds)
                worst = max(worst, p95)
                print(f"{path:<44} {p50:>8.1f} {p95:>8.1f}  {'ok' if p95 < TARGET_MS else 'OVER'}")
            print(f"\nworst p95: {worst:.1f} ms ({rounds} renders a page)")
        finally:
            app.close()


if __name__ == "__main__":
    main()
