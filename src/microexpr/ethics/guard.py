"""The use guard: what a declared context and purpose allow, and the notice for the people being analysed.

EU AI Act Art. 5(1)(f) forbids inferring the emotions of people at work or in education except for medical or
safety reasons. In those contexts emotion labels are switched off and learned recognisers refused; Action Unit
and blendshape capture (measurements of facial movement, not inferences about feelings) stays available.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from microexpr.errors import MicroexprError, OptionError

CONTEXTS = (
    "research",
    "entertainment",
    "healthcare",
    "workplace",
    "education",
    "marketing",
    "security",
    "other",
)
RESTRICTED = ("workplace", "education")
EXEMPT_PURPOSES = ("medical", "safety")


class UseRefused(MicroexprError):
    """The declared context forbids what was asked for."""

    exit_code = 3


@dataclass(frozen=True)
class UseDecision:
    """What the guard allows for one run: context, purpose, whether emotions may be inferred, and why."""

    context: str | None
    purpose: str | None
    emotions_allowed: bool
    reason: str


def check_context(context: str | None) -> str | None:
    if context is None:
        return None
    c = context.strip().lower()
    if c not in CONTEXTS:
        raise OptionError(f"unknown --context {context[:40]!r}; choose one of {', '.join(CONTEXTS)}")
    return c


def _exempt(purpose: str | None) -> bool:
    if not purpose:
        return False
    words = {w for w in purpose.lower().replace(",", " ").replace("-", " ").split()}
    return bool(words & set(EXEMPT_PURPOSES))


def decide(context: str | None, purpose: str | None) -> UseDecision:
    """The guard's decision for a context (one of :data:`CONTEXTS`, or None: undeclared) and a purpose."""
    from microexpr.store.catalogue import check_text

    ctx = check_context(context)
    if purpose is not None:
        check_text(purpose, "--purpose")
    if ctx in RESTRICTED and not _exempt(purpose):
        return UseDecision(
            ctx,
            purpose,
            False,
            f"emotion inference is off in the {ctx} context (EU AI Act Art. 5(1)(f)) unless the purpose is"
            " medical or safety; AU and blendshape capture stays on",
        )
    return UseDecision(ctx, purpose, True, "emotion estimates allowed in this context")


def apply(opts: object, decision: UseDecision) -> object:
    """``AnalyzeOptions`` adjusted to the decision: emotions off where forbidden; a recogniser is refused there."""
    if decision.emotions_allowed:
        return replace(opts, context=decision.context, purpose=decision.purpose)  # type: ignore[type-var]
    if getattr(opts, "recognizer", None) is not None:
        raise UseRefused(
            f"refused: --recognizer infers emotions, which is not allowed in the {decision.context} context"
            " unless --purpose is medical or safety (EU AI Act Art. 5(1)(f)); AU capture works without it"
        )
    return replace(opts, emotions=False, context=decision.context, purpose=decision.purpose)  # type: ignore[type-var]


_NOTICE = """\
NOTICE: facial movement analysis{where}

What happens: a camera recording of your face is analysed by software (microexpr). It measures how parts
of your face move from frame to frame (for example brow raise, lip-corner pull, blinks), the direction of
your head and eyes, and short changes in expression. It does not identify who you are and does not compare
your face with any database.
{emotion}
What is kept: {kept}

Your rights: taking part is your choice. You can ask to see the data kept about you, to receive a copy, and
to withdraw your consent at any time; withdrawing deletes your data from the store and destroys the key that
could decrypt it. Every analysis, export and deletion is recorded in a tamper-evident log.

Limits: facial movements are not a reliable window into what a person feels or whether they tell the truth.
Results must not be used on their own to make decisions about you.
{contact}"""


def notice_text(context: str | None = None, *, purpose: str | None = None, contact: str | None = None) -> str:
    """A plain-language notice for the people being analysed, adapted to the context."""
    ctx = check_context(context)
    d = decide(ctx, purpose)
    where = f" ({ctx}{', purpose: ' + purpose if purpose else ''})" if ctx else ""
    if d.emotions_allowed:
        emotion = (
            "\nThe software may also label expressions with an estimated emotion (for example 'happiness'). Such"
            "\nlabels are guesses from facial movement only.\n"
        )
    else:
        emotion = (
            f"\nIn this {ctx} setting the software does NOT estimate emotions: the law (EU AI Act Art. 5(1)(f))"
            "\nforbids inferring the emotions of people at work or in education except for medical or safety"
            "\nreasons. Only facial movements are measured.\n"
        )
    kept = (
        "no video images are stored. Measurements linked to you are kept only with your"
        "\nconsent, encrypted, under a code name instead of your name, and deleted when the retention"
        "\nperiod ends."
    )
    contact_line = f"\nContact: {contact}\n" if contact else ""
    return _NOTICE.format(where=where, emotion=emotion, kept=kept, contact=contact_line)
