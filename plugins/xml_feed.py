"""Built-in XML format: `<catalog><product><sku>...</sku>...</product>...</catalog>`.

Read through defusedxml with DTDs, entities and external references refused
(billion laughs, XXE), streaming: each product element is turned into an item
and cleared as soon as it ends, so memory stays flat however long the feed.
defusedxml accepts any nesting depth and element count, so both are capped
here (`max_depth`, `max_item_bytes`). Every value arrives as text (`textual`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Final
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import attrs
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode, Location
from partner_ingest.ports.formats import FormatRegistrar, RawItem
from partner_ingest.ports.hookspecs import hookimpl

from ._items import product_item

__all__ = ["XmlFeed", "partner_ingest_register_formats"]

ROOT: Final = "catalog"
ITEM: Final = "product"
_ENTITIES: Final = {"\r": "&#13;"}  # a bare CR would be read back as LF


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if tag[0] == "{" else tag


def _element_item(element: Element) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for child in element:
        value: Any = _element_item(child) if len(child) else (child.text or "")
        if value == "" or value == {}:
            continue
        tag = _local(child.tag)
        if tag in item:  # a repeated element becomes a list (and fails a scalar field's type)
            previous = item[tag]
            item[tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            item[tag] = value
    return item


@attrs.frozen
class XmlFeed:
    """XML feed: a `catalog` root holding `product` elements, one child element per field."""

    version: int
    name: str = "xml"
    media_types: tuple[str, ...] = ("application/xml", "text/xml")
    textual: bool = True

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Product elements as items, with their 0-based position as the marker."""
        events = iterparse(
            stream,
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        max_depth = limits.max_depth + 2  # the catalog and product elements do not count
        max_size = limits.max_item_bytes
        depth = 0
        size = 0
        index = 0
        root: Element | None = None
        try:
            for event, element in events:
                if event == "start":
                    depth += 1
                    if depth > 2:
                        if depth > max_depth:
                            raise MalformedFeedError(
                                ErrorCode.TOO_DEEP,
                                f"product {index + 1} is nested deeper than {limits.max_depth} levels",
                                Location(pointer=f"/{ROOT}/{ITEM}[{index + 1}]"),
                            )
                    elif depth == 2:
                        if _local(element.tag) != ITEM:
                            raise MalformedFeedError(
                                ErrorCode.MALFORMED,
                                f"unexpected element <{_local(element.tag)}> in <{ROOT}>; expected <{ITEM}>",
                                Location(pointer=f"/{ROOT}"),
                            )
                        size = 0
                    elif _local(element.tag) != ROOT:
                        raise MalformedFeedError(
                            ErrorCode.MALFORMED,
                            f"the root element must be <{ROOT}>, not <{_local(element.tag)}>",
                        )
                    else:
                        root = element
                    continue
                depth -= 1
                if depth >= 2:
                    # Approximate bytes of the element: its text and both tags.
                    size += len(element.text or "") + 2 * len(element.tag) + 5
                    if size > max_size:
                        raise MalformedFeedError(
                            ErrorCode.ITEM_TOO_LARGE,
                            f"product {index + 1} is larger than {max_size} bytes",
                            Location(pointer=f"/{ROOT}/{ITEM}[{index + 1}]"),
                        )
                elif depth == 1:
                    yield _element_item(element), index
                    index += 1
                    if root is not None:
                        root.clear()  # the product is done: let it go
        except ParseError as error:
            line, column = error.position
            raise MalformedFeedError(
                ErrorCode.MALFORMED, f"invalid XML: {error}", Location(line=line, column=column + 1)
            ) from None
        except DefusedXmlException as error:
            raise MalformedFeedError(
                ErrorCode.FORBIDDEN_MARKUP,
                f"DTDs, entity declarations and external references are not allowed ({type(error).__name__})",
            ) from None
        except UnicodeDecodeError:
            raise MalformedFeedError(
                ErrorCode.ENCODING, "the feed is not valid in its declared encoding"
            ) from None

    def locate(self, index: int, marker: object, field: str) -> Location:
        """Element path of the field: /catalog/product[n]/dimensions/width (1-based n)."""
        path = f"/{ROOT}/{ITEM}[{index + 1}]"
        if field:
            path += "/" + field.replace(".", "/")
        return Location(pointer=path)

    def render(self, products: Iterable[Product]) -> bytes:
        """An indented catalog document."""
        out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{ROOT}>"]
        for product in products:
            out.append(f"  <{ITEM}>")
            for name, value in product_item(product, self.version).items():
                out.append("    " + _element(name, value))
            out.append(f"  </{ITEM}>")
        out.append(f"</{ROOT}>\n")
        return "\n".join(out).encode("utf-8")


def _element(name: str, value: object) -> str:
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_element(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return "".join(_element(name, v) for v in value)
    if value is None:
        return ""
    return f"<{name}>{escape(str(value), _ENTITIES)}</{name}>"


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """xml, in versions 1 and 2."""
    for version in (1, 2):
        register(XmlFeed(version))
