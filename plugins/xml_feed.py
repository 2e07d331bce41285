"""Built-in XML format: `<catalog><product><sku>...</sku>...</product>...</catalog>`.

Read through defusedxml's parser with DTDs, entities and external references
refused (billion laughs, XXE), streaming: expat's callbacks build each product's
item as its elements close (no element tree), and the document is fed in 64 KiB
chunks, so memory stays flat however long the feed.
defusedxml accepts any nesting depth, element and text size, so all are capped
here (`max_depth`, `max_item_bytes`, `max_field_chars`), and bytes that are
not UTF-8 in a UTF-8 document fail as `encoding`, not as a syntax error. Every
value arrives as text (`textual`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Final
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import attrs
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

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
_CHUNK: Final = 64 * 1024


def _local(tag: str) -> str:
    # expat names a namespaced element "uri}local" (ElementTree's "{uri}local"): keep "local".
    return tag.rpartition("}")[2] if "}" in tag else tag


class _ItemBuilder:
    """expat's element callbacks, building each product's item dict directly.

    Why not ElementTree's tree builder: defusedxml runs the pure-Python XMLParser
    and TreeBuilder, and building Element objects only to turn them into dicts
    cost more than half of an XML ingest. These callbacks do the same job (a
    field element's text, a nested element as a dict, a repeated element as a
    list, empty elements skipped) with the caps checked as elements open and
    close. defusedxml's own handlers (DTDs, entity declarations, external
    references refused) stay installed on the same expat parser.
    """

    def __init__(self, limits: FeedLimits, guard: _GuardedStream) -> None:
        self._guard = guard
        self._max_depth = limits.max_depth + 2  # the catalog and product elements do not count
        self._max_size = limits.max_item_bytes
        self._max_field = limits.max_field_chars
        self._limits = limits
        self._depth = 0
        self._frames: list[dict[str, Any]] = []
        """The dicts of the open elements from <product> down."""
        self._has_child: list[bool] = []
        self._text = ""
        self._size = 0
        self.index = 0
        self.done: list[RawItem] = []
        """Products completed since the caller last took them."""

    def install(self, parser: DefusedXMLParser) -> None:
        """Hook into `parser`'s expat parser directly when it exposes one (saves a Python
        call per element over the XMLParser target interface, which remains the fallback)."""
        expat = getattr(parser, "parser", None)
        if expat is not None:
            expat.StartElementHandler = self.start
            expat.EndElementHandler = self.end

    def start(self, tag: str, attributes: list[str] | dict[str, str]) -> None:
        depth = self._depth = self._depth + 1
        if depth > 2:
            if depth > self._max_depth:
                raise MalformedFeedError(
                    ErrorCode.TOO_DEEP,
                    f"product {self.index + 1} is nested deeper than {self._limits.max_depth} levels",
                    _product_at(self.index),
                )
            if attributes:
                pairs = attributes.items() if isinstance(attributes, dict) else [attributes]
                self._size += sum(len(part) + 2 for pair in pairs for part in pair)
            self._has_child[-1] = True
            self._frames.append({})
            self._has_child.append(False)
        elif depth == 2:
            if _local(tag) != ITEM:
                raise MalformedFeedError(
                    ErrorCode.MALFORMED,
                    f"unexpected element <{_local(tag)}> in <{ROOT}>; expected <{ITEM}>",
                    Location(pointer=f"/{ROOT}"),
                )
            self._frames = [{}]
            self._has_child = [False]
            self._size = 0
        elif _local(tag) != ROOT:
            raise MalformedFeedError(
                ErrorCode.MALFORMED, f"the root element must be <{ROOT}>, not <{_local(tag)}>"
            )
        self._text = ""

    def data(self, text: str) -> None:
        self._text += text

    def end(self, tag: str) -> None:
        depth = self._depth
        self._depth = depth - 1
        if depth > 2:
            frame = self._frames.pop()
            text = self._text
            self._text = ""
            if len(text) > self._max_field:
                raise MalformedFeedError(
                    ErrorCode.FIELD_TOO_LARGE,
                    f"product {self.index + 1}: <{_local(tag)}> holds more than {self._max_field} characters",
                    _product_at(self.index),
                )
            # Approximate bytes of the element: its text and both tags.
            self._size += len(text) + 2 * len(tag) + 5
            if self._size > self._max_size:
                raise MalformedFeedError(
                    ErrorCode.ITEM_TOO_LARGE,
                    f"product {self.index + 1} is larger than {self._max_size} bytes",
                    _product_at(self.index),
                )
            value: Any = frame if self._has_child.pop() else text
            if not value:  # an empty element (no text, or only empty children) is an absent field
                return
            parent = self._frames[-1]
            name = _local(tag)
            if name in parent:  # a repeated element becomes a list (and fails a scalar field's type)
                previous = parent[name]
                parent[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                parent[name] = value
        elif depth == 2:
            self.done.append((self._frames[0], self.index))
            self.index += 1
            self._guard.unread = 0

    def close(self) -> None:
        """The XMLParser target protocol's end of document (nothing to hand back)."""


@attrs.frozen
class XmlFeed:
    """XML feed: a `catalog` root holding `product` elements, one child element per field."""

    version: int
    name: str = "xml"
    media_types: tuple[str, ...] = ("application/xml", "text/xml")
    textual: bool = True

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Product elements as items, with their 0-based position as the marker."""
        guard = _GuardedStream(stream, limits.max_item_bytes)
        builder = _ItemBuilder(limits, guard)
        parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        builder.install(parser)
        try:
            while True:
                chunk = guard.read(_CHUNK)
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
                if builder.done:
                    done, builder.done = builder.done, []
                    yield from done
                if not chunk:
                    return
        except _RunTooLong:
            raise MalformedFeedError(
                ErrorCode.ITEM_TOO_LARGE,
                f"product {builder.index + 1} (or the text before it) is larger than {limits.max_item_bytes} bytes",
                _product_at(builder.index),
            ) from None
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
        except (UnicodeDecodeError, LookupError) as error:
            raise MalformedFeedError(
                ErrorCode.ENCODING, f"the feed cannot be read in its declared encoding ({error})"
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


def _product_at(index: int) -> Location:
    return Location(pointer=f"/{ROOT}/{ITEM}[{index + 1}]")


class _RunTooLong(Exception):
    """More bytes than an item may have were read without a product ending."""


_XML_DECLARATION: Final = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_HEAD: Final = 256


class _GuardedStream:
    """The document's bytes on their way into expat, with two checks expat cannot make.

    - Bounded memory: expat hands text to the tree builder only at the next tag,
      so one huge text node (or attribute, or comment) would be held whole before
      any size check could run. This counts the bytes read since the last product
      ended (`unread`, reset by the parser) and stops past `max_item_bytes` plus
      one read.
    - A clear encoding error: expat reports bytes that are not UTF-8 as "not
      well-formed (invalid token)", like any syntax error. A document in UTF-8
      (declared, or by default) is decoded here too, so it fails as `encoding`,
      with its line.
    """

    def __init__(self, stream: BinaryIO, max_item_bytes: int) -> None:
        self._stream = stream
        self._cap = max_item_bytes
        self._decoder: codecs.IncrementalDecoder | None = None
        self._started = False
        self._lines = 1
        self.unread = 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (a little more for the first read, to see the declaration)."""
        data = self._stream.read(size)
        if not self._started:
            self._started = True
            while data and len(data) < _HEAD:
                more = self._stream.read(_HEAD - len(data))
                if not more:
                    break
                data += more
            if _declares_utf8(data):
                self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.unread += len(data)
        if self.unread > self._cap + max(size, _HEAD):
            raise _RunTooLong
        if self._decoder is not None:
            try:
                self._decoder.decode(data, final=not data)
            except UnicodeDecodeError as error:
                chunk = error.object
                line = self._lines + chunk.count(b"\n", 0, error.start)
                raise MalformedFeedError(
                    ErrorCode.ENCODING,
                    f"line {line}: the feed is not valid UTF-8 ({error.reason})",
                    Location(line=line),
                ) from None
        self._lines += data.count(b"\n")
        return data


def _declares_utf8(head: bytes) -> bool:
    """Is a document starting with `head` in UTF-8 (its declaration's encoding, else the default)?"""
    if head.startswith(codecs.BOM_UTF8):
        return True
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head[:4].count(0):
        return False  # UTF-16 or UTF-32: expat detects and reads those itself
    found = _XML_DECLARATION.match(head.lstrip())
    if found is None:
        return True
    try:
        return codecs.lookup(found.group(1).decode("ascii")).name == "utf-8"
    except LookupError:
        return False  # expat refuses the name itself, as `encoding`


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
