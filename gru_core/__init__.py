"""GRU Explorer core: data, models, exact gate tracing, training and evaluation.

No Streamlit here: the dashboard's pages are thin views over these functions.

    >>> from gru_core import load_model
    >>> model = load_model("models/gru")
    >>> model.predict_proba(["A wonderful film."])      # array of P(positive)
    >>> t = model.trace("Not good at all.")             # gates at every word
    >>> t.tokens, t.gates["update"].shape, t.step_proba, t.proba
"""
from .archs import ARCHS
from .checkpoint import CheckpointError, list_checkpoints, load_checkpoint, models_dir, save_checkpoint
from .data import DataNotFoundError, load_imdb, load_rt_polarity
from .predictor import SentimentModel, load_model
from .text import Vocab, pad_sequences, tokenize, tokenize_with_spans
from .trace import Trace

__all__ = [
    "ARCHS",
    "CheckpointError",
    "DataNotFoundError",
    "SentimentModel",
    "Trace",
    "Vocab",
    "list_checkpoints",
    "load_checkpoint",
    "load_imdb",
    "load_model",
    "load_rt_polarity",
    "models_dir",
    "pad_sequences",
    "save_checkpoint",
    "tokenize",
    "tokenize_with_spans",
]
