"""Import every module of the installed partner_ingest namespace (CI runs this against the
built wheel in a clean virtualenv, so a subpackage missing from the wheel fails loudly)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

PORTIONS = ("domain", "ports", "adapters_in", "adapters_out", "plugins", "testing")


def main() -> int:
    count = 0
    # The library and the format kit (partner_ingest.plugins.testing) run without pytest; only
    # the kits' suites and plugin need it (the `testing` extra), and they are imported last.
    for portion in PORTIONS:
        if portion == "testing" and "pytest" in sys.modules:
            print("the library imported pytest", file=sys.stderr)
            return 1
        package = importlib.import_module(f"partner_ingest.{portion}")
        count += 1
        for module in pkgutil.walk_packages(package.__path__, prefix=f"partner_ingest.{portion}."):
            importlib.import_module(module.name)
            count += 1
    version = importlib.import_module("partner_ingest").__version__
    print(
        f"partner_ingest {version}: imported {count} modules from {importlib.import_module('partner_ingest.domain').__file__}"
    )
    # The formats registered through the distribution's own entry points, with the sample
    # documents they serve as examples: package data a wheel could silently drop.
    from partner_ingest.plugins import load_formats
    from partner_ingest.ports.formats import DescribedFormat

    formats = load_formats()
    samples = {}
    for name in ("gmc-xml", "gmc-tsv", "shopify-csv"):
        fmt = formats.get(name, 2)
        samples[name] = len(fmt.sample()) if isinstance(fmt, DescribedFormat) else 0
    print(f"entry-point formats and their samples (bytes): {samples}")
    # The pages' templates and static files (Swagger UI's assets included): package data too.
    from importlib import resources

    web = resources.files("partner_ingest.adapters_in.web")
    assets = ("templates/base.html", "templates/portal_check.html", "static/site.css", "static/docs.js",
              "static/docs-a11y.js", "static/docs-a11y.css",
              "static/swagger/swagger-ui-bundle.js", "static/swagger/swagger-ui.css")  # fmt: skip
    missing = [name for name in assets if not web.joinpath(name).is_file()]
    print(f"page assets missing from the wheel: {missing or 'none'}")
    return 0 if count > len(PORTIONS) and all(samples.values()) and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
