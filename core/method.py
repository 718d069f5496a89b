"""What a method is: metadata plus hook implementations.

Copy this template for a new method::

    from regsuite import Citation, LogUniform, Method, hookimpl

    class MyPenalty(Method):
        \"\"\"One line on the idea, then the paper's equation:  L = CE + lam * ||w||^2.\"\"\"

        name = "my-penalty"
        family = "regularizer"
        citation = Citation("Title", "A. Author, B. Author", 2024, "https://arxiv.org/abs/...")
        defaults = {"lam": 1e-4}
        space = {"lam": LogUniform(1e-6, 1e-1)}
        requires = frozenset()          # capabilities a task must provide
        fidelity = Fidelity.faithful("paper", "eq. 3 with the paper's defaults")
        version = "1"

        @hookimpl
        def regsuite_penalty(self, model, outputs, batch, state):
            return self.hp["lam"] * sum(p.pow(2).sum() for p in model.parameters())

A run creates one instance per method with its resolved hyperparameters in
``self.hp`` and registers it on the run's plugin manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .space import Param

FAMILIES = (
    "optimizer",
    "regularizer",
    "loss",
    "procedure",
    "augmentation",
    "reparameterization",
    "schedule",
    "gradient-transform",
)


FIDELITY_KINDS = ("faithful", "adapted", "reconstructed")


@dataclass(frozen=True)
class Fidelity:
    """How closely a method's implementation follows its source.

    * ``faithful``: the paper's equations and defaults, or the authors' code; ``source`` says which.
    * ``adapted``: follows the source except where ``note`` says (what differs and why).
    * ``reconstructed``: rebuilt from the abstract or a summary only; ``note`` says what is unconfirmed.
    """

    kind: str
    source: str = ""
    note: str = ""

    @classmethod
    def faithful(cls, source: str, note: str = "") -> "Fidelity":
        """Faithful to ``source``: "paper", "authors' code", or a library that implements the paper."""
        return cls("faithful", source, note)

    @classmethod
    def adapted(cls, note: str, source: str = "paper") -> "Fidelity":
        return cls("adapted", source, note)

    @classmethod
    def reconstructed(cls, note: str) -> "Fidelity":
        return cls("reconstructed", "abstract", note)

    def problems(self) -> list[str]:
        out = []
        if self.kind not in FIDELITY_KINDS:
            out.append(f"fidelity kind must be one of {', '.join(FIDELITY_KINDS)}, got {self.kind!r}")
        if self.kind == "faithful" and not self.source:
            out.append("a faithful method must say what it is faithful to (paper, authors' code, library)")
        if self.kind in ("adapted", "reconstructed") and not self.note:
            out.append(f"an {self.kind} method must say how (fidelity note)")
        return out

    def describe(self) -> str:
        head = f"{self.kind} ({self.source})" if self.source else self.kind
        return f"{head}: {self.note}" if self.note else head


@dataclass(frozen=True)
class Citation:
    title: str
    authors: str
    year: int
    url: str

    def short(self) -> str:
        first = self.authors.split(",")[0].strip()
        more = " et al." if "," in self.authors else ""
        return f"{first}{more} {self.year}"


class Method:
    """Base class of every method. Subclasses set the class attributes below."""

    name: ClassVar[str]
    family: ClassVar[str]
    citation: ClassVar[Citation | None] = None
    defaults: ClassVar[dict[str, Any]] = {}
    space: ClassVar[dict[str, Param]] = {}
    requires: ClassVar[frozenset[str]] = frozenset()
    # How closely the implementation follows its source; None only for methods not yet labelled.
    fidelity: ClassVar[Fidelity | None] = None
    # A reference row (an upper bound, an oracle, a closed-form map, the do-nothing map): scored and
    # shown, never ranked, and left out of the suite aggregates. The text says what it is.
    reference: ClassVar[str | None] = None
    # The paper's quantitative claims (regsuite.claims.Claim), shown beside what was measured.
    claims: ClassVar[tuple] = ()
    version: ClassVar[str] = "1"
    # True for an optimizer that sets its own step sizes over the run (schedule-free, relative-step):
    # the plan then adds no default schedule to a composition that contains it.
    schedules_itself: ClassVar[bool] = False

    def __init__(self, hp: dict[str, Any] | None = None) -> None:
        self.hp = dict(self.defaults)
        if hp:
            self.hp.update(hp)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.hp}>"

    @classmethod
    def summary(cls) -> str:
        """First line of the docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def accept_hp(cls, key: str, value: Any, *, from_text: bool = False) -> Any:
        """``value`` converted to hyperparameter ``key``'s type, if the method can take it.

        A key in the search space is checked against that parameter's hard ``limits`` (not its
        tuning range: ``--hp adamw.weight_decay=1.0`` is a valid setting outside the range); any
        other key against the type of its default. Raises ``KeyError`` for an unknown key and
        ``ValueError`` for a value the method cannot take.
        """
        from .space import check_typed, parse_typed

        if key not in cls.defaults:
            raise KeyError(key)
        if key in cls.space:
            return cls.space[key].parse(value) if from_text else cls.space[key].accept(value)
        like = cls.defaults[key]
        return parse_typed(value, like) if from_text else check_typed(value, like)

    @classmethod
    def metadata_problems(cls) -> list[str]:
        """Return what is wrong with the declared metadata (empty when valid)."""
        problems = []
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name or name != name.strip() or "+" in name or " " in name:
            problems.append(f"name must be a non-empty string without spaces or '+', got {name!r}")
        if getattr(cls, "family", None) not in FAMILIES:
            problems.append(f"family must be one of {', '.join(FAMILIES)}, got {getattr(cls, 'family', None)!r}")
        if cls.citation is not None and not isinstance(cls.citation, Citation):
            problems.append("citation must be a regsuite.Citation or None")
        if not isinstance(cls.defaults, dict):
            problems.append("defaults must be a dict")
        if not isinstance(cls.space, dict):
            problems.append("space must be a dict")
        else:
            for key, param in cls.space.items():
                if not isinstance(param, Param):
                    problems.append(f"space[{key!r}] must be a regsuite space parameter")
                elif isinstance(cls.defaults, dict) and key not in cls.defaults:
                    problems.append(f"space[{key!r}] has no default value")
                elif isinstance(cls.defaults, dict):
                    try:
                        param.validate(cls.defaults[key])
                    except ValueError as exc:
                        problems.append(f"default {key}={cls.defaults[key]!r} is not in its space: {exc}")
                    if param.range_problem():
                        problems.append(f"space[{key!r}]: {param.range_problem()}")
        if cls.fidelity is not None:
            if not isinstance(cls.fidelity, Fidelity):
                problems.append("fidelity must be a regsuite.Fidelity or None")
            else:
                problems.extend(cls.fidelity.problems())
        if not isinstance(cls.schedules_itself, bool):
            problems.append(f"schedules_itself must be True or False, got {cls.schedules_itself!r}")
        for claim in cls.claims if isinstance(cls.claims, tuple) else ["not a tuple"]:
            found = getattr(claim, "problems", None)
            problems.extend(found() if callable(found) else ["claims must be a tuple of regsuite.claims.Claim"])
        if not isinstance(cls.requires, frozenset):
            problems.append("requires must be a frozenset of capability names")
        problems.extend(unknown_hooks(cls))
        problems.extend(unmarked_hooks(cls))
        return problems


def _declared_attributes(cls) -> list[str]:
    """The attribute names ``cls`` and its bases declare beyond :class:`Method` itself, sorted.

    :class:`Method` declares no hook, so the checks below need only these (a tenth of ``dir(cls)``)."""
    base = set(Method.__mro__)
    return sorted({name for klass in cls.__mro__ if klass not in base for name in vars(klass)})


def unknown_hooks(cls) -> list[str]:
    """Hook implementations whose name is not a run hook (a misspelling would never be called)."""
    import difflib

    from .state import RUN_HOOKS

    out = []
    for attr in _declared_attributes(cls):
        fn = getattr(cls, attr, None)
        if getattr(fn, "regsuite_impl", None) is not None and attr not in RUN_HOOKS:
            close = difflib.get_close_matches(attr, RUN_HOOKS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            out.append(f"implements unknown hook {attr!r}{hint}")
    return out


def unmarked_hooks(cls) -> list[str]:
    """Methods named like a run hook but without ``@hookimpl``: pluggy never calls them, so the
    method would pass every other check and silently do nothing."""
    import difflib

    from .state import RUN_HOOKS

    out = []
    for attr in _declared_attributes(cls):
        if not attr.startswith("regsuite_"):
            continue
        fn = getattr(cls, attr, None)
        if not callable(fn) or getattr(fn, "regsuite_impl", None) is not None:
            continue
        if attr in RUN_HOOKS:
            out.append(f"{attr} is not marked @hookimpl, so it is never called (decorate it with "
                       "regsuite.hookimpl)")
        else:
            close = difflib.get_close_matches(attr, RUN_HOOKS, n=1, cutoff=0.8)
            if close:
                out.append(f"{attr} is neither marked @hookimpl nor a run hook; did you mean {close[0]}?")
    return out
