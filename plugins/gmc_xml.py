"""Google Merchant Center product feeds in XML (`gmc-xml`): RSS 2.0 or Atom 1.0 with the `g:` namespace.

An RSS feed is `<rss><channel>` holding `<item>`s, an Atom feed `<feed>` holding
`<entry>`s; each item's attributes are elements in Merchant Center's namespace
(`xmlns:g="http://base.google.com/ns/1.0"`), nested ones (`<g:shipping>`) with
child elements. RSS's own `<title>`, `<link>` and `<description>` and Atom's
`<title>` and `<summary>` stand in for the `g:` ones where those are absent;
the rest of the RSS or Atom envelope (`<guid>`, `<updated>`, the channel's
own title) is not product data. The attributes become canonical fields as
`_merchant_center.py` says (the table is in docs/foreign-formats.md and in
the contract).

The document is read by the built-in XML format's reader (`read_items`,
ADR 0020): defusedxml vets the prolog, the C parser builds each item, the same
caps and the same errors, with the item's element path (`/rss/channel/item[3]`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from typing import BinaryIO, Final
from xml.etree.ElementTree import Element

import attrs

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.feed_source import FeedContext, FormatMapping
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode, Location
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

from ._merchant_center import GMC_NAMESPACE, MAPPING, Converter, attributes_of, source_of
from ._xml_elements import escaped, local_name
from .xml_feed import read_items

__all__ = ["GmcXmlFeed", "partner_ingest_register_formats"]

ATOM_NAMESPACE: Final = "http://www.w3.org/2005/Atom"
_RSS_ITEM: Final = frozenset(
    {
        "title",
        "link",
        "description",
        "guid",
        "pubDate",
        "author",
        "category",
        "comments",
        "enclosure",
        "source",
    }
)
"""RSS 2.0's own item elements: the envelope, told apart from namespace-less Merchant Center attributes."""
_RSS_PATH: Final = "/rss/channel/item"
_ATOM_PATH: Final = "/feed/entry"


def _name(tag: str) -> str:
    """An element's attribute name: `g:price` -> price, RSS's `<title>` -> rss:title, Atom's -> atom:title."""
    if tag[0] != "{":
        return "rss:" + tag if tag in _RSS_ITEM else tag
    uri, _, local = tag[1:].partition("}")
    return "atom:" + local if uri == ATOM_NAMESPACE else local


class _Layout:
    """RSS (`rss/channel/item`) or Atom (`feed/entry`), told by the root element; one per document."""

    name_of = staticmethod(_name)

    def __init__(self) -> None:
        self.item_path = _RSS_PATH
        self._item = "item"

    def container(self, root: Element) -> Element | None:
        name = local_name(root.tag)
        if name == "feed":
            self.item_path, self._item = _ATOM_PATH, "entry"
            return root
        if name != "rss":
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                f"the root element must be <rss> (RSS 2.0) or <feed> (Atom 1.0), not <{name}>",
            )
        if not len(root):
            return None
        channel = root[0]
        if local_name(channel.tag) != "channel":
            raise MalformedFeedError(
                ErrorCode.MALFORMED,
                f"unexpected element <{local_name(channel.tag)}> in <rss>; expected <channel>",
                Location(pointer="/rss"),
            )
        return channel

    def is_item(self, child: Element) -> bool:
        # Anything else in the channel or feed (its title, link, updated, image) is the envelope.
        return local_name(child.tag) == self._item


@attrs.frozen
class GmcXmlFeed:
    """A Merchant Center XML feed in one contract version."""

    version: int
    context: FeedContext | None = None
    """The partner whose feed is read (its currency stands in for a price without a code)."""
    name: str = "gmc-xml"
    media_types: tuple[str, ...] = ("application/rss+xml", "application/atom+xml")
    textual: bool = True

    def for_partner(self, context: FeedContext) -> GmcXmlFeed:
        """This format reading `context`'s partner's feeds."""
        return attrs.evolve(self, context=context)

    @property
    def mapping(self) -> FormatMapping:
        """Merchant Center attribute -> canonical field."""
        return MAPPING

    def sample(self) -> bytes:
        """An RSS 2.0 feed written from the specification, with the edge cases partners send."""
        return resources.files(__package__).joinpath("samples/gmc-xml.xml").read_bytes()

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Items with (the document's item path, whether the item gave a quantity) as the marker."""
        layout = _Layout()
        convert = Converter(self.version, self.context.currency if self.context else None).item
        for source, _index in read_items(stream, limits, layout):
            item, quantity_given = convert(source)  # type: ignore[arg-type]
            yield item, (layout.item_path, quantity_given)

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Element path of the attribute behind the field: /rss/channel/item[3]/g:price."""
        path, quantity_given = marker if isinstance(marker, tuple) else (_RSS_PATH, False)
        pointer = f"{path}[{index + 1}]"
        if field:
            pointer += "/g:" + source_of(field, bool(quantity_given))
        return Location(pointer=pointer)

    def render(self, products: Iterable[Product]) -> bytes:
        """An RSS 2.0 feed, every attribute in the g: namespace."""
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<rss version="2.0" xmlns:g="{GMC_NAMESPACE}">',
            "<channel>",
            "  <title>Products</title>",
            "  <link>https://shop.example.com/</link>",
            "  <description>Products rendered by partner-catalog-ingest</description>",
        ]
        for product in products:
            out.append("  <item>")
            out.extend(
                f"    <g:{name}>{escaped(value)}</g:{name}>"
                for name, value in attributes_of(product, self.version)
            )
            out.append("  </item>")
        out.append("</channel>\n</rss>\n")
        return "\n".join(out).encode("utf-8")


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """gmc-xml, in versions 1 and 2."""
    for version in (1, 2):
        register(GmcXmlFeed(version))
