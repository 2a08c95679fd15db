"""Short reviews that show the gates at work (the Gate Explorer's examples), and made-up reviews of a
chosen length for measurements."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .i18n import N_

if TYPE_CHECKING:
    from .predictor import SentimentModel

# name -> review. The names are N_() constants (the keys stay English: the session state holds them); show them
# with _(). The reviews stay English: the models read English.
EXAMPLES: dict[str, str] = {
    N_("Praise"): (
        "One of the best films I have seen in years. The acting is superb, the script is sharp "
        "and funny, and the ending is simply perfect."
    ),
    N_("Complaint"): (
        "A boring, predictable mess. The dialogue is awful, the plot makes no sense and I wanted "
        "my two hours back."
    ),
    N_("Slow start, brilliant ending"): (
        "The film started slowly and the first hour really dragged, but the ending was brilliant "
        "and I left the cinema smiling."
    ),
    N_("Negation: not good at all"): "I expected a lot from this movie, but it was not good at all.",
    N_("Negation: not bad"): "Honestly, not bad. I expected much worse, and it was actually quite fun.",
    N_("Long review, verdict decided early"): (
        "An absolute masterpiece, and easily the finest performance of her career. "
        "The story follows a family that moves from the city to a small farm after the father "
        "loses his job. Over the course of one summer the children explore the fields, the old "
        "barn and the river that runs along the edge of the property. The parents argue about "
        "money, the neighbours drop by with advice, and the grandmother tells stories about the "
        "war. In the second half the river floods, the harvest is lost and the family has to "
        "decide whether to stay or to return to the city. The film takes its time with each of "
        "these events and shows them through the eyes of the youngest daughter, who keeps a "
        "diary of everything that happens on the farm."
    ),
    N_("Long range: the bicycle sentence"): (
        "My mother gave me a bicycle on my birthday because she knew I wanted to ride with my "
        "friends, and watching this film gave me exactly that feeling of joy again."
    ),
}


def review_of(model: SentimentModel, n_words: int, seed: int = 0) -> str:
    """A review of ``n_words`` known words (so exactly n_words steps are read)."""
    rng = np.random.default_rng(seed)
    v = model.vocab
    words = [w for w in v.words[:3000 - v.first_id] if w is not None]
    return " ".join(rng.choice(words, size=n_words))
