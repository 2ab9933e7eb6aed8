"""A small Kusto Query Language (KQL) evaluator for the emulator's Azure Resource Graph.

It evaluates queries honestly over the rows it is given (no canned answers). Semantics follow the Kusto
query language reference (learn.microsoft.com/kusto/query) and Resource Graph's "Understand the Azure
Resource Graph query language"; the subset:

    Table | where E | extend N = E, ... | project N, N = E, ... | project-away N, ... | order by E [asc|desc], ...
          | sort by ... | take N | limit N | top N by E [asc|desc] | summarize [N =] agg, ... [by E, ...]
          | count | distinct N, ...

- aggregates: count(), countif(E), dcount(E), sum(E), min(E), max(E)
- expressions: `and or`, `== != =~ !~ < <= > >=`, `in in~ !in !in~ (...)`, `has contains startswith endswith`
  (case-insensitive; `!` negations and `_cs` case-sensitive variants), `+ - * / %`, property access `a.b`,
  `a['b']`, `a["b"]`, `a[0]`, `['column']`, string ('...', "...", @'...'), number and bool literals;
- functions: not isempty isnotempty isnull isnotnull tolower toupper tostring tobool toboolean toint tolong
  todouble strcat split iff iif coalesce strlen substring indexof trim trim_start trim_end extract parse_json
  todynamic array_length.

Column and property names are case-sensitive, as in Kusto; `=~`, `has`, `contains`, `startswith` and
`endswith` compare strings case-insensitively. Order is descending unless `asc` is given (Kusto's default), nulls
first when ascending and last when descending. A dynamic value compared with a string is compared as its
string form (null is ""). Table names are matched case-insensitively, as Resource Graph does.

Anything outside the subset raises KqlError (code ParserFailure for syntax, SemanticError for unknown names,
UnsupportedOperator for tabular operators outside the subset), which graph.py turns into Resource Graph's
400 InvalidQuery error.
"""

import json
import re

__all__ = ["KqlError", "parse", "run", "tostring"]


class KqlError(Exception):
    def __init__(self, code, message, position=None, token=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position      # 0-based character offset in the query
        self.token = token


# ------------------------------------------------------------------------------------------ tokens

_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<str>@'[^']*'|@"[^"]*"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<num>\d+\.\d+|\d+)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|=~|!~|<=|>=|[|()\[\],.=<>+\-*/%!~;])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


class Token:
    __slots__ = ("kind", "value", "pos", "end")

    def __init__(self, kind, value, pos, end):
        self.kind, self.value, self.pos, self.end = kind, value, pos, end

    def __repr__(self):
        return f"Token({self.kind}, {self.value!r}, {self.pos})"


def _unquote(text):
    if text.startswith("@"):
        return text[2:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if not found:
            raise KqlError("ParserFailure", f"Unexpected character {text[pos]!r}", pos, text[pos])
        kind = found.lastgroup
        raw = found.group(kind)
        if kind == "str":
            tokens.append(Token("str", _unquote(raw), pos, found.end()))
        elif kind == "num":
            tokens.append(Token("num", float(raw) if "." in raw else int(raw), pos, found.end()))
        elif kind != "ws":
            tokens.append(Token(kind, raw, pos, found.end()))
        pos = found.end()
    tokens.append(Token("eof", None, len(text), len(text)))
    return tokens


# ------------------------------------------------------------------------------------------ values

def tostring(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"))


def _tobool(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
    return None


def _tonumber(value, kind=int):
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return int(value)
    try:
        return kind(float(value)) if kind is int else float(value)
    except (TypeError, ValueError):
        return None


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(left, right, fold=False):
    if isinstance(left, str) or isinstance(right, str) or fold:
        a, b = tostring(left), tostring(right)
        return a.lower() == b.lower() if fold else a == b
    if left is None or right is None:
        return False
    return left == right


def _not_equal(left, right):
    if isinstance(left, str) or isinstance(right, str):
        return tostring(left) != tostring(right)
    if left is None or right is None:
        return False
    return left != right


def _compare(left, right):
    """-1/0/1, or None when the two cannot be ordered."""
    if _is_number(left) and _is_number(right):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return None


def _has(haystack, needle, case=False):
    text, term = tostring(haystack), tostring(needle)
    if not case:
        text, term = text.lower(), term.lower()
    if not term:
        return True
    start = 0
    while True:
        index = text.find(term, start)
        if index < 0:
            return False
        before = text[index - 1] if index > 0 else " "
        after = text[index + len(term)] if index + len(term) < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = index + 1


def _string_op(name):
    case = name.endswith("_cs")
    base = name[:-3] if case else name

    def fold(value):
        return tostring(value) if case else tostring(value).lower()

    if base == "has":
        return lambda a, b: _has(a, b, case)
    if base == "contains":
        return lambda a, b: fold(b) in fold(a)
    if base == "startswith":
        return lambda a, b: fold(a).startswith(fold(b))
    if base == "endswith":
        return lambda a, b: fold(a).endswith(fold(b))
    return None


_STRING_OPS = ("has", "contains", "startswith", "endswith", "has_cs", "contains_cs", "startswith_cs",
               "endswith_cs")


def _split(value, delimiter, index=None):
    parts = tostring(value).split(tostring(delimiter)) if tostring(delimiter) else [tostring(value)]
    if index is None:
        return parts
    i = _tonumber(index)
    return [parts[i]] if i is not None and -len(parts) <= i < len(parts) else []


def _parse_json(value):
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _substring(value, start, length=None):
    text = tostring(value)
    begin = max(0, _tonumber(start) or 0)
    if length is None:
        return text[begin:]
    return text[begin:begin + max(0, _tonumber(length) or 0)]


def _indexof(value, lookup, start=0):
    text = tostring(value)
    return text.find(tostring(lookup), max(0, _tonumber(start) or 0))


def _trim(regex, value, where):
    text = tostring(value)
    pattern = tostring(regex)
    if where in ("both", "start"):
        text = re.sub(f"^(?:{pattern})+", "", text)
    if where in ("both", "end"):
        text = re.sub(f"(?:{pattern})+$", "", text)
    return text


def _extract(regex, group, value):
    found = re.search(tostring(regex), tostring(value))
    if not found:
        return None if value is None else ""
    try:
        return found.group(_tonumber(group) or 0)
    except IndexError:
        return ""


def _coalesce(*values):
    for value in values:
        if value is not None and value != "":
            return value
    return values[-1] if values and isinstance(values[-1], str) else None


# name: (min args, max args, implementation taking evaluated args)
_FUNCTIONS = {
    "not": (1, 1, lambda x: not (x is True)),
    "isempty": (1, 1, lambda x: x is None or x == ""),
    "isnotempty": (1, 1, lambda x: not (x is None or x == "")),
    "isnull": (1, 1, lambda x: x is None),
    "isnotnull": (1, 1, lambda x: x is not None),
    "tolower": (1, 1, lambda x: tostring(x).lower()),
    "toupper": (1, 1, lambda x: tostring(x).upper()),
    "tostring": (1, 1, tostring),
    "tobool": (1, 1, _tobool),
    "toboolean": (1, 1, _tobool),
    "toint": (1, 1, _tonumber),
    "tolong": (1, 1, _tonumber),
    "todouble": (1, 1, lambda x: _tonumber(x, float)),
    "toreal": (1, 1, lambda x: _tonumber(x, float)),
    "strcat": (1, 64, lambda *xs: "".join(tostring(x) for x in xs)),
    "split": (2, 3, _split),
    "coalesce": (2, 64, _coalesce),
    "strlen": (1, 1, lambda x: len(tostring(x))),
    "substring": (2, 3, _substring),
    "indexof": (2, 3, _indexof),
    "trim": (2, 2, lambda r, x: _trim(r, x, "both")),
    "trim_start": (2, 2, lambda r, x: _trim(r, x, "start")),
    "trim_end": (2, 2, lambda r, x: _trim(r, x, "end")),
    "extract": (3, 3, _extract),
    "parse_json": (1, 1, _parse_json),
    "todynamic": (1, 1, _parse_json),
    "array_length": (1, 1, lambda x: len(x) if isinstance(x, list) else None),
}
_LAZY = {"iff", "iif"}
_AGGREGATES = {"count": (0, 0), "countif": (1, 1), "dcount": (1, 1), "sum": (1, 1), "min": (1, 1), "max": (1, 1)}


# ------------------------------------------------------------------------------------------ expressions

class Expr:
    """A compiled scalar expression: fn(row) -> value, plus the column name Kusto would give it."""

    def __init__(self, fn, name=None, columns=()):
        self.fn = fn
        self.name = name
        self.columns = columns      # the columns it reads (for error messages)

    def __call__(self, row):
        return self.fn(row)


def _const(value):
    return Expr(lambda row: value)


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.schema = []
        self.operator = "where"

    # ---- token helpers
    @property
    def tok(self):
        return self.tokens[self.i]

    def peek(self, n=1):
        return self.tokens[min(self.i + n, len(self.tokens) - 1)]

    def next(self):
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def fail(self, message, token=None):
        token = token or self.tok
        shown = "<end of query>" if token.kind == "eof" else self.text[token.pos:token.end]
        raise KqlError("ParserFailure", f"{message} (at '{shown}', position {token.pos + 1})", token.pos, shown)

    def is_op(self, value, n=0):
        token = self.peek(n) if n else self.tok
        return token.kind == "op" and token.value == value

    def is_id(self, value=None, n=0):
        token = self.peek(n) if n else self.tok
        return token.kind == "id" and (value is None or token.value == value)

    def expect_op(self, value):
        if not self.is_op(value):
            self.fail(f"Expected '{value}'")
        return self.next()

    def expect_id(self, what="a name"):
        if self.tok.kind != "id":
            self.fail(f"Expected {what}")
        return self.next().value

    def adjacent(self, n=1):
        return self.peek(n - 1).end == self.peek(n).pos if n > 1 else self.tok.end == self.peek(1).pos

    # ---- names
    def column_name(self):
        """A column name: an identifier or ['name'] / ["name"]."""
        if self.is_op("["):
            self.next()
            if self.tok.kind != "str":
                self.fail("Expected a quoted column name")
            name = self.next().value
            self.expect_op("]")
            return name
        return self.expect_id("a column name")

    def resolve(self, name, token):
        if name not in self.schema:
            raise KqlError("SemanticError", f"'{self.operator}' operator: Failed to resolve scalar expression named "
                                            f"'{name}'", token.pos, name)
        return Expr(lambda row: row.get(name), name, (name,))

    # ---- expressions
    def expression(self):
        return self.or_expr()

    def or_expr(self):
        left = self.and_expr()
        while self.is_id("or"):
            self.next()
            right = self.and_expr()
            left = Expr(lambda row, a=left, b=right: a(row) is True or b(row) is True)
        return left

    def and_expr(self):
        left = self.comparison()
        while self.is_id("and"):
            self.next()
            right = self.comparison()
            left = Expr(lambda row, a=left, b=right: a(row) is True and b(row) is True)
        return left

    def _comparison_operator(self):
        """(name, negated) of the comparison operator at the cursor, consuming it; None when there is none."""
        token = self.tok
        if token.kind == "op" and token.value in ("==", "!=", "=~", "!~", "<", "<=", ">", ">="):
            self.next()
            return token.value, False
        negated = False
        if self.is_op("!") and self.peek(1).kind == "id" and self.adjacent():
            negated = True
            self.next()
        if self.tok.kind == "id" and (self.tok.value == "in" or self.tok.value in _STRING_OPS):
            name = self.next().value
            if name == "in" and self.is_op("~") and self.peek(-1).end == self.tok.pos:
                self.next()
                name = "in~"
            return name, negated
        if negated:
            self.fail("Expected in, has, contains, startswith or endswith after '!'")
        return None

    def comparison(self):
        left = self.additive()
        found = self._comparison_operator()
        if found is None:
            return left
        name, negated = found
        if name in ("in", "in~"):
            self.expect_op("(")
            items = [self.expression()]
            while self.is_op(","):
                self.next()
                items.append(self.expression())
            self.expect_op(")")
            fold = name == "in~"

            def member(row, a=left, items=items, fold=fold, negated=negated):
                value = a(row)
                candidates = []
                for item in items:
                    got = item(row)
                    candidates.extend(got if isinstance(got, list) else [got])
                hit = any(_equal(value, c, fold) for c in candidates)
                return hit != negated
            return Expr(member)
        right = self.additive()
        if name in _STRING_OPS:
            op = _string_op(name)
            return Expr(lambda row, a=left, b=right: op(a(row), b(row)) != negated)
        if name == "==":
            return Expr(lambda row, a=left, b=right: _equal(a(row), b(row)))
        if name == "!=":
            return Expr(lambda row, a=left, b=right: _not_equal(a(row), b(row)))
        if name == "=~":
            return Expr(lambda row, a=left, b=right: _equal(a(row), b(row), fold=True))
        if name == "!~":
            return Expr(lambda row, a=left, b=right: not _equal(a(row), b(row), fold=True))
        wanted = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}[name]
        return Expr(lambda row, a=left, b=right: _compare(a(row), b(row)) in wanted)

    def additive(self):
        left = self.multiplicative()
        while self.is_op("+") or self.is_op("-"):
            op = self.next().value
            right = self.multiplicative()
            left = Expr(lambda row, a=left, b=right, op=op: _arith(op, a(row), b(row)))
        return left

    def multiplicative(self):
        left = self.unary()
        while self.is_op("*") or self.is_op("/") or self.is_op("%"):
            op = self.next().value
            right = self.unary()
            left = Expr(lambda row, a=left, b=right, op=op: _arith(op, a(row), b(row)))
        return left

    def unary(self):
        if self.is_op("-"):
            self.next()
            inner = self.unary()
            return Expr(lambda row: _arith("-", 0, inner(row)))
        return self.postfix()

    def postfix(self):
        expr = self.primary()
        while True:
            if self.is_op("."):
                self.next()
                key = self.expect_id("a property name")
                expr = Expr(lambda row, e=expr, k=key: _member(e(row), k), f"{expr.name}_{key}" if expr.name else key,
                            expr.columns)
            elif self.is_op("["):
                self.next()
                index = self.expression()
                self.expect_op("]")
                expr = Expr(lambda row, e=expr, i=index: _member(e(row), i(row)), expr.name, expr.columns)
            else:
                return expr

    def primary(self):
        token = self.tok
        if token.kind == "str":
            self.next()
            return _const(token.value)
        if token.kind == "num":
            self.next()
            return _const(token.value)
        if self.is_op("("):
            self.next()
            inner = self.expression()
            self.expect_op(")")
            return inner
        if self.is_op("["):
            name = self.column_name()
            return self.resolve(name, token)
        if token.kind != "id":
            self.fail("Expected an expression")
        name = self.next().value
        if name in ("true", "false") and not self.is_op("("):
            return _const(name == "true")
        if self.is_op("("):
            return self.call(name, token)
        if name == "dynamic":
            self.fail("dynamic() literals are not supported")
        return self.resolve(name, token)

    def arguments(self):
        self.expect_op("(")
        args = []
        if not self.is_op(")"):
            args.append(self.expression())
            while self.is_op(","):
                self.next()
                args.append(self.expression())
        self.expect_op(")")
        return args

    def call(self, name, token):
        if name in _AGGREGATES:
            raise KqlError("SemanticError", f"Function '{name}' can only be used in the context of a summarize "
                                            "aggregation.", token.pos, name)
        if name not in _FUNCTIONS and name not in _LAZY:
            raise KqlError("SemanticError", f"'{self.operator}' operator: Failed to resolve scalar expression named "
                                            f"'{name}' (unknown function)", token.pos, name)
        args = self.arguments()
        if name in _LAZY:
            if len(args) != 3:
                self.fail(f"{name}() expects 3 arguments", token)
            cond, then, other = args
            return Expr(lambda row: then(row) if cond(row) is True else other(row), then.name)
        low, high, fn = _FUNCTIONS[name]
        if not low <= len(args) <= high:
            self.fail(f"{name}() expects {low}{'' if low == high else f' to {high}'} arguments", token)
        hint = args[0].name if args and name not in ("strcat", "coalesce") else None
        return Expr(lambda row: fn(*(a(row) for a in args)), hint)


def _member(value, key):
    if isinstance(value, dict):
        return value.get(key) if isinstance(key, str) else None
    if isinstance(value, list) and _is_number(key):
        index = int(key)
        return value[index] if -len(value) <= index < len(value) else None
    return None


def _arith(op, left, right):
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return None
    if not (_is_number(left) and _is_number(right)):
        return None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return None
    if op == "/":
        return left / right if isinstance(left, float) or isinstance(right, float) else int(left / right)
    return left % right


# ------------------------------------------------------------------------------------------ tabular operators

class Query:
    """A parsed query: the table name and its pipeline of (operator name, function rows -> rows)."""

    def __init__(self, table, steps, limited, columns):
        self.table = table
        self.steps = steps
        self.limited = limited      # the pipeline has take/limit/top (Resource Graph then ignores options.$skip)
        self.columns = columns      # the output columns, in order

    def run(self, rows):
        for _, step in self.steps:
            rows = step(rows)
        return rows


def _sort_rows(rows, keys):
    """Stable multi-key sort: keys are (expr, descending, nulls_last)."""
    out = list(rows)
    for expr, descending, nulls_last in reversed(keys):
        present = [r for r in out if expr(r) is not None]
        absent = [r for r in out if expr(r) is None]

        def key(row, e=expr):
            value = e(row)
            if isinstance(value, bool):
                return (1, int(value), "")
            if _is_number(value):
                return (1, value, "")
            if isinstance(value, str):
                return (2, 0, value)
            return (3, 0, tostring(value))
        present.sort(key=key, reverse=descending)
        out = present + absent if nulls_last else absent + present
    return out


def _hashable(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return type(value).__name__, value


def parse(text, tables):
    """Parse `text` against `tables` ({lower-cased table name: [column names]}). Returns a Query."""
    if not isinstance(text, str) or not text.strip():
        raise KqlError("ParserFailure", "The query is empty.", 0, "")
    p = _Parser(text)
    token = p.tok
    if token.kind != "id":
        p.fail("Expected a table name")
    table = p.next().value
    if table.lower() not in tables:
        raise KqlError("DisallowedLogicalTableName", f"Table {table} is invalid, unsupported or disallowed.",
                       token.pos, table)
    table = table.lower()
    p.schema = list(tables[table])
    steps, limited = [], False
    while p.is_op("|"):
        p.next()
        op_token = p.tok
        name = p.expect_id("a tabular operator")
        while p.is_op("-") and p.tok.pos == p.peek(-1).end and p.peek(1).kind == "id" and p.adjacent():
            p.next()
            name += "-" + p.next().value
        p.operator = name
        if name in ("where", "filter"):
            cond = p.expression()
            steps.append((name, lambda rows, c=cond: [r for r in rows if c(r) is True]))
        elif name == "extend":
            assignments = _assignments(p, allow_bare=True)
            steps.append((name, lambda rows, a=assignments: [_extend(r, a) for r in rows]))
        elif name == "project":
            assignments = _assignments(p, allow_bare=True, project=True)
            steps.append((name, lambda rows, a=assignments: [{n: e(r) for n, e in a} for r in rows]))
        elif name == "project-away":
            names = [p.column_name()]
            while p.is_op(","):
                p.next()
                names.append(p.column_name())
            for column in names:
                if column not in p.schema:
                    raise KqlError("SemanticError", f"'project-away' operator: Failed to resolve column named "
                                                    f"'{column}'", op_token.pos, column)
            p.schema = [c for c in p.schema if c not in names]
            keep = list(p.schema)
            steps.append((name, lambda rows, k=keep: [{c: r.get(c) for c in k} for r in rows]))
        elif name in ("order", "sort"):
            if not p.is_id("by"):
                p.fail(f"Expected 'by' after '{name}'")
            p.next()
            keys = _sort_keys(p)
            steps.append((name, lambda rows, k=keys: _sort_rows(rows, k)))
        elif name in ("take", "limit"):
            count = _count_argument(p, name)
            limited = True
            steps.append((name, lambda rows, n=count: rows[:n]))
        elif name == "top":
            count = _count_argument(p, name)
            if not p.is_id("by"):
                p.fail("Expected 'by' after 'top N'")
            p.next()
            keys = _sort_keys(p, single=True)
            limited = True
            steps.append((name, lambda rows, n=count, k=keys: _sort_rows(rows, k)[:n]))
        elif name == "summarize":
            steps.append((name, _summarize(p)))
        elif name == "count":
            p.schema = ["Count"]
            steps.append((name, lambda rows: [{"Count": len(rows)}]))
        elif name == "distinct":
            names = [p.column_name()]
            while p.is_op(","):
                p.next()
                names.append(p.column_name())
            exprs = [(n, p.resolve(n, op_token)) for n in names]
            p.schema = names
            steps.append((name, lambda rows, e=exprs: _distinct(rows, e)))
        elif name == "join":
            if table == "kubernetesconfigurationresources":
                raise KqlError("UnsupportedJoinTable", "Table 'kubernetesconfigurationresources' cannot be joined "
                                                       "with other tables: query it on its own and read the clusters "
                                                       "from 'resources' in a second query.", op_token.pos, name)
            raise KqlError("UnsupportedOperator", "The 'join' operator is not supported here.", op_token.pos, name)
        else:
            raise KqlError("UnsupportedOperator", f"The tabular operator '{name}' is not supported.", op_token.pos,
                           name)
        if not (p.is_op("|") or p.tok.kind == "eof" or p.is_op(";")):
            p.fail(f"Unexpected token after the '{name}' operator")
    if p.is_op(";"):
        p.next()
    if p.tok.kind != "eof":
        p.fail("Expected '|' or the end of the query")
    return Query(table, steps, limited, list(p.schema))


def _count_argument(p, name):
    token = p.tok
    if token.kind != "num" or not isinstance(token.value, int):
        p.fail(f"'{name}' expects a whole number of rows")
    p.next()
    return token.value


def _sort_keys(p, single=False):
    keys = []
    while True:
        expr = p.expression()
        descending = True
        if p.is_id("asc") or p.is_id("desc"):
            descending = p.next().value == "desc"
        nulls_last = descending
        if p.is_id("nulls"):
            p.next()
            if not (p.is_id("first") or p.is_id("last")):
                p.fail("Expected 'first' or 'last' after 'nulls'")
            nulls_last = p.next().value == "last"
        keys.append((expr, descending, nulls_last))
        if single or not p.is_op(","):
            return keys
        p.next()


def _assignments(p, allow_bare=False, project=False):
    """`N = E, ...` (or bare expressions named as Kusto names them). Updates p.schema."""
    out, unnamed = [], 0
    while True:
        if (p.tok.kind == "id" or p.is_op("[")) and _is_assignment(p):
            name = p.column_name()
            p.expect_op("=")
            expr = p.expression()
        else:
            if not allow_bare:
                p.fail("Expected 'name = expression'")
            expr = p.expression()
            name = expr.name
            if not name:
                unnamed += 1
                name = f"Column{unnamed}"
        out.append((name, expr))
        if not project and name not in p.schema:
            p.schema = p.schema + [name]      # later assignments of an extend may use earlier ones
        if not p.is_op(","):
            break
        p.next()
    if project:
        p.schema = list(dict.fromkeys(n for n, _ in out))
    return out


def _is_assignment(p):
    if p.is_op("["):
        return p.peek(1).kind == "str" and p.is_op("]", 2) and p.is_op("=", 3)
    return p.is_op("=", 1)


def _extend(row, assignments):
    out = dict(row)
    for name, expr in assignments:
        out[name] = expr(out)
    return out


def _distinct(rows, exprs):
    seen, out = set(), []
    for row in rows:
        values = {n: e(row) for n, e in exprs}
        key = tuple(_hashable(v) for v in values.values())
        if key not in seen:
            seen.add(key)
            out.append(values)
    return out


def _summarize(p):
    aggregates = []
    if not p.is_id("by"):
        while True:
            name = None
            if p.tok.kind == "id" and p.is_op("=", 1):
                name = p.next().value
                p.next()
            token = p.tok
            func = p.expect_id("an aggregation function")
            if func not in _AGGREGATES:
                raise KqlError("SemanticError", f"'summarize' operator: '{func}' is not a supported aggregation "
                                                "function (count, countif, dcount, sum, min, max).", token.pos, func)
            args = p.arguments()
            low, high = _AGGREGATES[func]
            if not low <= len(args) <= high:
                p.fail(f"{func}() expects {low} argument{'s' if low != 1 else ''}", token)
            if name is None:
                name = f"{func}_" if func in ("count", "countif") else f"{func}_{args[0].name or ''}"
            aggregates.append((name, func, args[0] if args else None))
            if not p.is_op(","):
                break
            p.next()
    groups = []
    if p.is_id("by"):
        p.next()
        while True:
            if p.tok.kind == "id" and p.is_op("=", 1):
                name = p.next().value
                p.next()
                expr = p.expression()
            else:
                expr = p.expression()
                name = expr.name or f"Column{len(groups) + 1}"
            groups.append((name, expr))
            if not p.is_op(","):
                break
            p.next()
    p.schema = [n for n, _ in groups] + [n for n, _, _ in aggregates]

    def step(rows):
        buckets = {}
        for row in rows:
            values = tuple(e(row) for _, e in groups)
            key = tuple(_hashable(v) for v in values)
            buckets.setdefault(key, (values, []))[1].append(row)
        if not groups and not buckets:
            buckets[()] = ((), [])
        out = []
        for values, members in buckets.values():
            result = {n: v for (n, _), v in zip(groups, values)}
            for name, func, arg in aggregates:
                result[name] = _aggregate(func, arg, members)
            out.append(result)
        return out
    return step


def _aggregate(func, arg, rows):
    if func == "count":
        return len(rows)
    if func == "countif":
        return sum(1 for r in rows if arg(r) is True)
    values = [arg(r) for r in rows]
    present = [v for v in values if v is not None]
    if func == "dcount":
        return len({_hashable(v) for v in present})
    numbers = [v for v in present if _is_number(v)]
    if func == "sum":
        return sum(numbers) if numbers else None
    ordered = numbers or [v for v in present if isinstance(v, str)]
    if not ordered:
        return None
    return min(ordered) if func == "min" else max(ordered)


def run(text, tables, rows_of):
    """Parse and evaluate `text`. tables: {name: [columns]}; rows_of(name) -> list of row dicts.
    Returns (query, result rows)."""
    query = parse(text, tables)
    return query, query.run(rows_of(query.table))
