"""Built-in XML format: `<catalog><product><sku>...</sku>...</product>...</catalog>`.

Streaming: the document is read in 64 KiB chunks, and each product leaves memory
once it is an item. Every value arrives as text (`textual`).

Two expat parsers read the bytes, each with one job:

- defusedxml's `DefusedXMLParser` (DTDs, entity declarations and external
  references refused: billion laughs, XXE) reads the prolog, from the first byte
  until the root element starts, and is then dropped (`_Prolog`);
- the standard library's C `XMLParser` and `TreeBuilder` read the whole
  document, also from its first byte, and build the elements (`_Tree`); each
  product becomes an item dict in one Python pass over its elements (`Fields`,
  in _xml_elements.py) and is taken out of the tree.

Why two: defusedxml offers only the pure-Python parser, and its callbacks (a
Python call per start tag, end tag and text) were most of the cost of reading a
feed. The C parser builds the elements without running any Python.

Why defusedxml may stop at the root element (a security decision): everything it
refuses comes from a document type declaration. Entities (billion laughs,
quadratic blowup, external and parameter entities) are declared only in a DTD,
and an external DTD is named only by one. XML allows a DTD only in the prolog,
and expat fails a `<!DOCTYPE` after the root element's start as not well-formed.
So once defusedxml has seen the root element start without objecting, the
document has no DTD: the only entity references left are the five predefined
ones and character references, and expat (the same library in both parsers)
fails any other as an undefined entity. The C parser, on its own, would read a
DTD and expand its entities; the order is what keeps it from ever seeing one:
each chunk goes to defusedxml first, and to the C parser only if defusedxml read
it without objecting. Both run the same expat over the same bytes, so the C
parser never gets past a point defusedxml accepted (a DOCTYPE split across two
chunks is refused when its second half arrives; that half never reaches the C
parser). That the C parser installs no handler for external entities, and that
expat caps entity amplification, are second lines, not the reason.

The caps are the callbacks' own, checked the same way and in the same order:
`max_depth` (nesting below a product), `max_item_bytes` (an item's size,
approximated as its texts, tags and attributes) and `max_field_chars` (one
text). A product over a cap, and the product the parser is inside when a chunk
ends or the document breaks, are replayed element by element through those
rules (`Replay`), so the error, and the items handed out before it, are the
ones the callbacks gave. Memory per product stays bounded by `_GuardedStream`'s
byte count, though elements weigh more than the dicts the callbacks built: a
product made of tiny elements, up to that count, can hold a few megabytes.
Bytes that are not UTF-8 in a UTF-8 document fail as `encoding`, not as a
syntax error (`_GuardedStream`).
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Final, Protocol
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLParser

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
from ._xml_elements import ITEM, ROOT, Fields, Replay, check_item_tag, escaped, local_name, product_at

__all__ = ["Layout", "XmlFeed", "partner_ingest_register_formats", "read_items"]

_CHUNK: Final = 64 * 1024
_SLICE: Final = 4 * 1024
"""Bytes handed to the C parser at a time while the cyclic garbage collector runs. Closed
products leave the tree after each slice, so most elements die before it ever visits them.
With the collector off (a parser process runs it between chunks) the whole chunk goes at
once: the slices' calls, copies and tree walks cost more than they save there."""


@attrs.frozen
class XmlFeed:
    """XML feed: a `catalog` root holding `product` elements, one child element per field."""

    version: int
    name: str = "xml"
    media_types: tuple[str, ...] = ("application/xml", "text/xml")
    file_extensions: tuple[str, ...] = (".xml",)
    textual: bool = True

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Product elements as items, with their 0-based position as the marker."""
        return read_items(stream, limits, _Catalog())

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


class Layout(Protocol):
    """Where a kind of document keeps its items: what `read_items` asks as the tree grows."""

    item_path: str
    """Element path of the items, for errors: `/catalog/product`, `/rss/channel/item`."""

    def container(self, root: Element) -> Element | None:
        """The element whose children are the items, None while it has not started; raises
        MalformedFeedError for a root (or a child of it) this kind of document does not have."""

    def is_item(self, child: Element) -> bool:
        """True for an item, False for a child of the container to skip (and drop);
        raises MalformedFeedError for one that may not be there."""

    def name_of(self, tag: str) -> str:
        """The field name of an element (ElementTree's `{uri}local` tag) inside an item."""


class _Catalog:
    """This format's own layout: a `catalog` root whose children are all `product`s."""

    item_path = f"/{ROOT}/{ITEM}"
    name_of = staticmethod(local_name)

    def container(self, root: Element) -> Element:
        if local_name(root.tag) != ROOT:
            raise MalformedFeedError(
                ErrorCode.MALFORMED, f"the root element must be <{ROOT}>, not <{local_name(root.tag)}>"
            )
        return root

    def is_item(self, child: Element) -> bool:
        if child.tag != ITEM:
            check_item_tag(child)
        return True


def read_items(stream: BinaryIO, limits: FeedLimits, layout: Layout) -> Iterator[RawItem]:
    """The items of an XML document laid out as `layout` says, each with its 0-based position
    as the marker: read in chunks, hardened and capped as the module docstring says."""
    guard = _GuardedStream(stream, limits.max_item_bytes)
    reader = _Reader(limits, guard, layout)
    try:
        while True:
            chunk = guard.read(_CHUNK)
            yield from reader.feed(chunk) if chunk else reader.close()
            if not chunk:
                return
    except _RunTooLong:
        noun = layout.item_path.rpartition("/")[2]
        raise MalformedFeedError(
            ErrorCode.ITEM_TOO_LARGE,
            f"{noun} {reader.index + 1} (or the text before it) is larger than {limits.max_item_bytes} bytes",
            product_at(reader.index, layout.item_path),
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
    except ValueError as error:
        # expat's own refusal of a declared encoding it cannot decode ("UTF-7", "EUC-JP":
        # "multi-byte encodings are not supported"); any other ValueError is a bug to see.
        if "encoding" not in str(error):
            raise
        raise MalformedFeedError(
            ErrorCode.ENCODING,
            f"the feed declares an encoding the XML parser cannot read ({error}): send UTF-8",
        ) from None


class _Reader:
    """The document's items, a chunk of bytes at a time: the two parsers fed in order,
    closed products taken from the tree, the product still open checked as far as it goes.

    A chunk's items are handed out only once the whole chunk is read, so a chunk that
    breaks (a syntax error, a cap exceeded) hands out none of them, as the callbacks'
    parser did.
    """

    def __init__(self, limits: FeedLimits, guard: _GuardedStream, layout: Layout) -> None:
        self._limits = limits
        self._guard = guard
        self._layout = layout
        self._prolog: _Prolog | None = _Prolog()
        self._tree = _Tree()
        self._fields = Fields(limits, layout.name_of)
        self._container: Element | None = None
        self._open: Replay | None = None
        """The product the parser was inside when the last chunk ended, replayed so far."""
        self._items: list[RawItem] = []
        self.index = 0
        """Products read so far, which is the 0-based index of the next one."""

    def feed(self, chunk: bytes) -> list[RawItem]:
        """The items that closed in `chunk`."""
        if self._prolog is not None and self._prolog.feed(chunk):
            self._prolog = None
        if gc.isenabled():
            for start in range(0, len(chunk), _SLICE):
                self._parse(chunk[start : start + _SLICE])
        else:  # nothing scans the elements before they go (a parser process): one call per chunk
            self._parse(chunk)
        self._follow_open()
        return self._take()

    def close(self) -> list[RawItem]:
        """The last items, at the end of the document."""
        if self._prolog is not None:  # no root element yet: defusedxml says what is wrong
            self._prolog.close()
            self._prolog = None
        self._parse(None)
        return self._take()

    def _parse(self, data: bytes | None) -> None:
        """Feed the C parser (None: the end of the document), then take the products it closed."""
        try:
            if data is None:
                self._tree.close()
            else:
                self._tree.feed(data)
        except (ParseError, UnicodeDecodeError, LookupError) as error:
            broken = error
        else:
            self._collect()
            return
        # The callbacks failed on the first problem in the document: a cap exceeded in
        # what the parser read before the break comes first.
        self._collect()
        self._follow_open()
        raise broken

    def _collect(self) -> None:
        """Turn the products the parser has closed into items, and take them out of the tree."""
        container = self._container_now()
        if container is None:
            return
        closed = len(container)
        if closed and not self._tree.closed(container[-1], container):
            closed -= 1
        if not closed:
            return
        is_item = self._layout.is_item
        taken = False
        for product in container[:closed]:
            if not is_item(product):
                continue
            item = self._fields.of(product)
            if item is None:  # a cap may be exceeded: the replay raises the first, in document order
                item = self._replayed(product)
            self._items.append((item, self.index))
            self.index += 1
            taken = True
        del container[:closed]
        if taken:
            self._guard.unread = 0
        self._open = None

    def _container_now(self) -> Element | None:
        if self._container is None:
            root = self._tree.root()
            if root is not None:
                self._container = self._layout.container(root)
        return self._container

    def _replayed(self, product: Element) -> dict[str, Any]:
        replay = Replay(product, self.index, self._limits, self._layout.item_path, self._layout.name_of)
        replay.advance(())
        return replay.item

    def _follow_open(self) -> None:
        """Replay the product the parser is inside, as far as the tree goes, so that a cap
        exceeded there fails this chunk, as it did when the callbacks read it."""
        container = self._container_now()
        if container is None or not len(container):
            return
        product = container[-1]
        if not self._layout.is_item(product):
            return
        if self._open is None or self._open.product is not product:
            layout = self._layout
            self._open = Replay(product, self.index, self._limits, layout.item_path, layout.name_of)
        # The replay fails a product on its way down past `max_depth`: deeper elements
        # are never asked about.
        self._open.advance(self._tree.still_open(product, self._limits.max_depth))

    def _take(self) -> list[RawItem]:
        items, self._items = self._items, []
        return items


class _RootStarted(Exception):
    """The prolog is over: defusedxml has nothing left to refuse."""


class _RootSignal:
    """defusedxml's parser target: it stops the parse when the root element starts."""

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        raise _RootStarted

    def close(self) -> None:
        """The target protocol's end of document, never reached: expat fails a document
        without a root element first."""


class _Prolog:
    """defusedxml's parser over the document until its root element starts (see the module
    docstring for why that is enough); it raises `DefusedXmlException` on a DTD."""

    def __init__(self) -> None:
        self._parser = DefusedXMLParser(
            target=_RootSignal(), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )

    def feed(self, data: bytes) -> bool:
        """Read on; True when the root element started in `data`."""
        try:
            self._parser.feed(data)
        except _RootStarted:
            return True
        return False

    def close(self) -> None:
        """The end of the document: whatever expat makes of a prolog without a root element."""
        with contextlib.suppress(_RootStarted):  # a root element only the end of the data completed
            self._parser.close()


class _Tree:
    """The C parser, building the element tree, and what the reader must know of its progress:
    the root element, and the last element to close.

    Both come from the tree builder's events, which reading one by one in Python (what the
    public `XMLPullParser.read_events` does) would cost much of what the C parser saves. So
    the parser reports "start" and "end" into a list only until the root element starts, and
    from then on only "end", into a deque that keeps the last one, appended to in C. This
    uses `XMLParser._setevents`, private to the standard library but how `XMLPullParser`
    itself asks for events (since Python 3.4); should it go, every parse fails loudly.
    """

    def __init__(self) -> None:
        # Only ever fed bytes defusedxml has accepted (see the module docstring).
        self._parser = XMLParser(target=TreeBuilder())  # noqa: S314
        self._first: list[tuple[str, Element]] = []
        self._last: deque[tuple[str, Element]] = deque(maxlen=1)
        self._root: Element | None = None
        self._parser._setevents(self._first, ("start", "end"))  # type: ignore[attr-defined]

    def feed(self, data: bytes) -> None:
        self._parser.feed(data)

    def close(self) -> None:
        self._parser.close()

    def root(self) -> Element | None:
        """The root element, once it has started."""
        if self._root is None and self._first:
            self._root = self._first[0][1]
            self._last.extend(event for event in self._first if event[0] == "end")
            self._first.clear()
            self._parser._setevents(self._last, ("end",))  # type: ignore[attr-defined]
        return self._root

    def closed(self, product: Element, container: Element) -> bool:
        """Has the parser read the end of `product`, the last child of `container` (the root
        or a child of it)? Its earlier siblings have ended: a later one started."""
        last = self._last[-1][1] if self._last else None
        return last is product or last is container or last is self._root

    def still_open(self, top: Element, levels: int) -> set[Element]:
        """`top`, a child of the root the parser has not closed, and those of its last
        descendants the parser is still inside, down to `levels` below `top`.

        The parser is inside the path from the root down its last children, the elements
        that started last; the last element to close, if it is on that path, closed with
        everything below it, and everything above it is open.
        """
        last = self._last[-1][1] if self._last else None
        path: set[Element] = set()
        element = top
        while element is not last and len(path) <= levels:
            path.add(element)
            if not len(element):
                break
            element = element[-1]
        return path


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
    return f"<{name}>{escaped(str(value))}</{name}>"


@hookimpl
def partner_ingest_register_formats(register: FormatRegistrar) -> None:
    """xml, in versions 1 and 2."""
    for version in (1, 2):
        register(XmlFeed(version))
