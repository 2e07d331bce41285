"""The elements of one XML product turned into its item, with the caps of ADR 0005.

`Fields` reads a closed product in one pass and gives up where a cap may be
exceeded; `Replay` then walks the product element by element through the rules
the expat callbacks of earlier releases followed, and raises their error at
their point. See xml_feed.py for why the elements come from the C parser.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Final
from xml.etree.ElementTree import Element

from partner_ingest.domain.model.errors import MalformedFeedError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.report import ErrorCode, Location

__all__ = ["ITEM", "ROOT", "Fields", "Replay", "check_item_tag", "escaped", "local_name", "product_at"]

ROOT: Final = "catalog"
ITEM: Final = "product"

_NAMES: Final = 1024
"""Element names whose local name and tag size are kept, not worked out per element."""
_RECURSION: Final = 100
"""Nesting `Fields` follows by recursion; a deeper product (possible only when
`max_depth` is raised past it) is replayed, which keeps its own stack."""


def escaped(text: str) -> str:
    """`text` as XML character data: what `xml.sax.saxutils.escape(text, {"\\r": "&#13;"})` gives,
    without importing it (it imports urllib.request, and with it http.client and ssl, into every
    process that loads the xml plugins). A bare CR would be read back as LF, so it is a reference."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace("\r", "&#13;")


def local_name(tag: str) -> str:
    # ElementTree names a namespaced element "{uri}local": keep "local".
    return tag.rpartition("}")[2] if "}" in tag else tag


def _tag_size(tag: str) -> int:
    # Both tags of the element. expat's own name for a namespaced element, "uri}local",
    # is what the size always counted: one character shorter than ElementTree's.
    return 2 * (len(tag) - tag.startswith("{")) + 5


def _attributes_size(element: Element) -> int:
    return sum(len(name) - name.startswith("{") + len(value) + 4 for name, value in element.items())


def product_at(index: int, item_path: str = f"/{ROOT}/{ITEM}") -> Location:
    """Where product `index` (0-based) is, for a feed error."""
    return Location(pointer=f"{item_path}[{index + 1}]")


def check_item_tag(element: Element) -> None:
    """Refuse a child of the root that is not a product."""
    if local_name(element.tag) != ITEM:
        raise MalformedFeedError(
            ErrorCode.MALFORMED,
            f"unexpected element <{local_name(element.tag)}> in <{ROOT}>; expected <{ITEM}>",
            Location(pointer=f"/{ROOT}"),
        )


def _repeat(fields: dict[str, Any], name: str, value: object) -> None:
    """A repeated element becomes a list (and fails a scalar field's type).

    The list is extended in place: it is one this function made, held by this item alone
    (a field's value is otherwise text or a dict), and copying it on every repeat made a
    product of n repeated elements cost n squared.
    """
    previous = fields[name]
    if isinstance(previous, list):
        previous.append(value)
    else:
        fields[name] = [previous, value]


class Unsure(Exception):
    """A cap may be exceeded in this product, or it nests deeper than `_RECURSION`."""


class Fields:
    """A closed product's item, read from its elements in one pass.

    The item is what the callbacks built: a field element's text (whitespace counts
    as text), an element with child elements as a dict, a repeated element as a list,
    an empty element (no text, or only empty children) left out, namespaced names by
    their local name. The size is theirs too, summed over the product: what their
    running total reached at the product's end. Every part counts up, so the total is
    over `max_item_bytes` exactly when the callbacks failed somewhere in the product;
    then (or for a text over `max_field_chars`, or nesting past `max_depth`) this gives
    up, and `Replay` finds where, as they did.
    """

    def __init__(self, limits: FeedLimits, name_of: Callable[[str], str] = local_name) -> None:
        self._name_of = name_of
        self._max_depth = min(limits.max_depth, _RECURSION)
        self._max_field = limits.max_field_chars
        self._max_size = limits.max_item_bytes
        self._names: dict[str, tuple[str, int]] = {}
        """Element name -> (local name, size of both tags), for the first `_NAMES` names met."""

    def of(self, product: Element) -> dict[str, Any] | None:
        """The item, or None when a cap may be exceeded."""
        try:
            fields, size = self._object(product, 1)
        except Unsure:
            return None
        return fields if size <= self._max_size else None

    def _object(self, element: Element, depth: int) -> tuple[dict[str, Any], int]:
        """The fields of `element` (its children are `depth` levels below the product's)
        and their size. This runs once per element of the feed: keep it lean."""
        if depth > self._max_depth:
            raise Unsure
        max_field = self._max_field
        names = self._names
        fields: dict[str, Any] = {}
        size = 0
        for child in element:
            value: Any
            if len(child):
                value, inner = self._object(child, depth + 1)
                text = child[-1].tail  # what the callbacks saw last: the text after the last child
                size += inner
            else:
                value = text = child.text
            if text:
                if len(text) > max_field:
                    raise Unsure
                size += len(text)
            if child.keys():
                size += _attributes_size(child)
            try:
                name, tags = names[child.tag]
            except KeyError:
                name, tags = self._name(child.tag)
            size += tags
            if value:  # an empty element (no text, or only empty children) is an absent field
                if name in fields:
                    _repeat(fields, name, value)
                else:
                    fields[name] = value
        return fields, size

    def _name(self, tag: str) -> tuple[str, int]:
        known = (self._name_of(tag), _tag_size(tag))
        if len(self._names) < _NAMES:  # a feed of ever new names must not grow the cache
            self._names[tag] = known
        return known


class Replay:
    """One product's elements, in document order, through the rules of the expat callbacks
    this parser used to run: the caps checked as each element starts (depth) and ends (text
    length, running size), the item built as elements close.

    It is the authority on where a product fails, and it follows a product still being read:
    `advance` goes as far as the tree goes (elements the parser is still inside have started,
    not ended), and picks up there when called again.
    """

    def __init__(
        self,
        product: Element,
        index: int,
        limits: FeedLimits,
        item_path: str = f"/{ROOT}/{ITEM}",
        name_of: Callable[[str], str] = local_name,
    ) -> None:
        self.product = product
        self._index = index
        self._limits = limits
        self._where = product_at(index, item_path)
        self._noun = item_path.rpartition("/")[2]
        self._name_of = name_of
        self._path: list[Element] = [product]
        """The elements started and not yet ended, from the product down."""
        self._next: list[int] = [0]
        """For each of them, the position of its next child."""
        self._frames: list[dict[str, Any]] = [{}]
        """The fields of each of them."""
        self._size = 0

    @property
    def item(self) -> dict[str, Any]:
        return self._frames[0]

    def advance(self, still_open: Collection[Element]) -> None:
        """Replay what the tree holds, up to the elements the parser is still inside."""
        path, positions = self._path, self._next
        while path:
            element, at = path[-1], positions[-1]
            if at < len(element):
                positions[-1] = at + 1
                child = element[at]
                self._start(child, len(path))
                path.append(child)
                positions.append(0)
            elif element in still_open:
                return
            else:
                path.pop()
                positions.pop()
                if path:
                    self._end(element)

    def _start(self, element: Element, depth: int) -> None:
        if depth > self._limits.max_depth:
            raise MalformedFeedError(
                ErrorCode.TOO_DEEP,
                f"{self._noun} {self._index + 1} is nested deeper than {self._limits.max_depth} levels",
                self._where,
            )
        self._size += _attributes_size(element)
        self._frames.append({})

    def _end(self, element: Element) -> None:
        frame = self._frames.pop()
        tag = element.tag
        text = (element[-1].tail if len(element) else element.text) or ""
        if len(text) > self._limits.max_field_chars:
            raise MalformedFeedError(
                ErrorCode.FIELD_TOO_LARGE,
                f"{self._noun} {self._index + 1}: <{local_name(tag)}> holds more than {self._limits.max_field_chars} characters",
                self._where,
            )
        # Approximate bytes of the element: its text and both tags.
        self._size += len(text) + _tag_size(tag)
        if self._size > self._limits.max_item_bytes:
            raise MalformedFeedError(
                ErrorCode.ITEM_TOO_LARGE,
                f"{self._noun} {self._index + 1} is larger than {self._limits.max_item_bytes} bytes",
                self._where,
            )
        value: Any = frame if len(element) else text
        if not value:  # an empty element (no text, or only empty children) is an absent field
            return
        parent = self._frames[-1]
        name = self._name_of(tag)
        if name in parent:
            _repeat(parent, name, value)
        else:
            parent[name] = value
