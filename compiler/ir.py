"""The in-memory IR: values with use lists, operations, blocks, functions, modules.

Operations live in a doubly linked list inside their block, so inserting and erasing are O(1)
whatever the size of the function. Every operation of a registered op name is an instance of
that op's class (see `compiler.opdef`); any other name builds a plain `Operation`, which the
printer writes in the generic form and the verifier checks only structurally.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from .types import Type

if TYPE_CHECKING:
    from .weights import WeightStore


class Value:
    """An SSA value. `name_hint` is the name a user gave it (`%images`), kept by the printer."""

    __slots__ = ("name_hint", "type", "uses")

    def __init__(self, type: Type, name_hint: str | None = None) -> None:
        self.type = type
        self.uses: list[tuple[Operation, int]] = []
        self.name_hint = name_hint

    @property
    def owner(self) -> Operation | None:
        return None

    @property
    def users(self) -> list[Operation]:
        """The operations that use this value, each once, in no particular order."""
        seen: dict[int, Operation] = {}
        for op, _ in self.uses:
            seen.setdefault(id(op), op)
        return list(seen.values())

    def replace_all_uses_with(self, new: Value) -> None:
        if new is self:
            return
        for op, index in list(self.uses):
            op.set_operand(index, new)


class OpResult(Value):
    __slots__ = ("index", "op")

    def __init__(self, op: Operation, index: int, type: Type) -> None:
        super().__init__(type)
        self.op = op
        self.index = index

    @property
    def owner(self) -> Operation:
        return self.op

    def __repr__(self) -> str:
        return f"<result {self.index} of {self.op.name}>"


class BlockArgument(Value):
    __slots__ = ("block", "index")

    def __init__(self, block: Block, index: int, type: Type, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.block = block
        self.index = index

    def __repr__(self) -> str:
        return f"<argument {self.index} %{self.name_hint or ''}>"


class Operation:
    """One operation: `%r = name %a, %b {attrs} : (types) -> type loc("...")`.

    Subclasses declared with `compiler.opdef` set NAME and describe their operands, results
    and attributes; `Operation.create` picks the class registered for a name.
    """

    NAME: ClassVar[str] = ""
    PURE: ClassVar[bool] = False        # no side effects: unused results may be erased
    TERMINATOR: ClassVar[bool] = False  # must be the last operation of its block
    COMMUTATIVE: ClassVar[bool] = False

    __slots__ = (
        "__weakref__",
        "_operands",
        "attributes",
        "line",
        "loc",
        "name",
        "next",
        "parent",
        "prev",
        "results",
    )

    registry: ClassVar[dict[str, type[Operation]]] = {}

    def __init__(self, name: str, operands: Iterable[Value] = (), result_types: Iterable[Type] = (),
                 attributes: dict[str, Any] | None = None, loc: str | None = None) -> None:
        self.name = name
        self._operands: list[Value] = []
        self.results = [OpResult(self, i, t) for i, t in enumerate(result_types)]
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self.loc = loc
        self.parent: Block | None = None
        self.prev: Operation | None = None
        self.next: Operation | None = None
        self.line: int | None = None  # line in the text it was parsed from, for messages
        for value in operands:
            self._add_operand(value)

    @staticmethod
    def create(name: str, operands: Iterable[Value] = (), result_types: Iterable[Type] = (),
               attributes: dict[str, Any] | None = None, loc: str | None = None) -> Operation:
        """Build an operation of the class registered for `name` (plain Operation if none)."""
        cls = Operation.registry.get(name, Operation)
        op = cls.__new__(cls)
        Operation.__init__(op, name, operands, result_types, attributes, loc)
        return op

    # -- operands -------------------------------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def _add_operand(self, value: Value) -> None:
        if not isinstance(value, Value):
            raise TypeError(f"operand of {self.name} must be a Value, got {value!r}")
        value.uses.append((self, len(self._operands)))
        self._operands.append(value)

    def set_operand(self, index: int, value: Value) -> None:
        old = self._operands[index]
        old.uses.remove((self, index))
        self._operands[index] = value
        value.uses.append((self, index))

    def set_operands(self, values: Iterable[Value]) -> None:
        self.drop_operands()
        for value in values:
            self._add_operand(value)

    def drop_operands(self) -> None:
        for index, value in enumerate(self._operands):
            value.uses.remove((self, index))
        self._operands = []

    # -- results ----------------------------------------------------------------------------
    @property
    def result(self) -> OpResult:
        """The single result of a one-result operation."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def is_unused(self) -> bool:
        return all(not r.uses for r in self.results)

    # -- place in the block -----------------------------------------------------------------
    def erase(self) -> None:
        """Unlink from the block and drop operands; results must have no uses left."""
        for r in self.results:
            if r.uses:
                raise ValueError(f"cannot erase {self.describe()}: its results are still used")
        if self.parent is not None:
            self.parent.remove(self)
        self.drop_operands()

    def describe(self) -> str:
        """`'top.conv' op at loc("...")`, the way messages name an operation."""
        where = f' loc("{self.loc}")' if self.loc else ""
        return f"'{self.name}' op{where}"

    def clone(self, operands: Iterable[Value] | None = None) -> Operation:
        op = Operation.create(self.name, self._operands if operands is None else operands,
                              [r.type for r in self.results], self.attributes, self.loc)
        op.line = self.line
        return op

    def verify_(self) -> None:
        """An op's own checks; raise VerifyError. Declared ops extend this."""

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class Block:
    """A list of operations with arguments; operations are linked, not stored in a list."""

    __slots__ = ("_count", "arguments", "first", "last", "parent")

    def __init__(self, arg_types: Iterable[Type] = (), arg_names: Iterable[str | None] = ()):
        names = list(arg_names)
        self.arguments = [BlockArgument(self, i, t, names[i] if i < len(names) else None)
                          for i, t in enumerate(arg_types)]
        self.first: Operation | None = None
        self.last: Operation | None = None
        self._count = 0
        self.parent: Function | None = None

    def __iter__(self) -> Iterator[Operation]:
        """Iterate in order; it is safe to erase the current operation while iterating."""
        op = self.first
        while op is not None:
            nxt = op.next
            yield op
            op = nxt

    def __len__(self) -> int:
        return self._count

    def reversed(self) -> Iterator[Operation]:
        op = self.last
        while op is not None:
            prv = op.prev
            yield op
            op = prv

    def append(self, op: Operation) -> Operation:
        self._link(op, self.last, None)
        return op

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        if anchor.parent is not self:
            raise ValueError("anchor is not in this block")
        self._link(op, anchor.prev, anchor)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        if anchor.parent is not self:
            raise ValueError("anchor is not in this block")
        self._link(op, anchor, anchor.next)
        return op

    def _link(self, op: Operation, prev: Operation | None, nxt: Operation | None) -> None:
        if op.parent is not None:
            raise ValueError(f"{op.describe()} is already in a block")
        op.parent, op.prev, op.next = self, prev, nxt
        if prev is None:
            self.first = op
        else:
            prev.next = op
        if nxt is None:
            self.last = op
        else:
            nxt.prev = op
        self._count += 1

    def remove(self, op: Operation) -> None:
        """Unlink `op` without touching its operands or uses."""
        if op.parent is not self:
            raise ValueError(f"{op.describe()} is not in this block")
        if op.prev is None:
            self.first = op.next
        else:
            op.prev.next = op.next
        if op.next is None:
            self.last = op.prev
        else:
            op.next.prev = op.prev
        op.parent = op.prev = op.next = None
        self._count -= 1


class Function:
    """`func.func @name(%a: T {arg attrs}) -> (R...) attributes {...} { body }`."""

    def __init__(self, name: str, arg_types: Iterable[Type], result_types: Iterable[Type],
                 arg_names: Iterable[str | None] = (), attributes: dict[str, Any] | None = None,
                 arg_attributes: list[dict[str, Any]] | None = None) -> None:
        self.name = name
        self.body = Block(arg_types, arg_names)
        self.body.parent = self
        self.result_types: list[Type] = list(result_types)
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        n = len(self.body.arguments)
        self.arg_attributes: list[dict[str, Any]] = (
            [dict(a) for a in arg_attributes] if arg_attributes else [{} for _ in range(n)])
        if len(self.arg_attributes) != n:
            raise ValueError("one attribute dictionary per argument is needed")
        self.parent: Module | None = None

    @property
    def arguments(self) -> list[BlockArgument]:
        return self.body.arguments

    @property
    def ops(self) -> Iterator[Operation]:
        return iter(self.body)

    @property
    def return_op(self) -> Operation | None:
        last = self.body.last
        return last if last is not None and last.TERMINATOR else None


class Module:
    """`module @name attributes {...} { functions }` plus the weights its ops refer to."""

    def __init__(self, name: str | None = None, attributes: dict[str, Any] | None = None):
        self.name = name
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self.functions: list[Function] = []
        self.weights: WeightStore | None = None
        self.source: str | None = None  # the file it was read from, for messages
        self.head_token = None  # where the parser found `module`, for messages

    def add_function(self, func: Function) -> Function:
        func.parent = self
        self.functions.append(func)
        return func

    def lookup(self, name: str) -> Function | None:
        for f in self.functions:
            if f.name == name:
                return f
        return None

    def walk(self) -> Iterator[Operation]:
        for f in self.functions:
            yield from f.body

    @property
    def main(self) -> Function:
        """The entry function: `@main`, or the only function."""
        f = self.lookup("main")
        if f is None and len(self.functions) == 1:
            f = self.functions[0]
        if f is None:
            raise ValueError("module has no @main function")
        return f
