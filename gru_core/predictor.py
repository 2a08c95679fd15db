"""``load_model``: a trained checkpoint as an object that predicts and explains."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .cell import form
from .checkpoint import load_checkpoint
from .i18n import _
from .model import SentimentRNN
from .text import Vocab, length_batches, pad_sequences, tokenize, tokenize_with_spans
from .trace import Trace, trace_batches


def _what_it_reads(padding: bool, start_id: int | None) -> str:
    """What a Keras model reads before a review's words, in words: its padding (or none) and its start mark."""
    if padding:
        if start_id is None:
            return _("the 0-padding in front (the Embedding has mask_zero=False: each padding step reads a learned "
                     "embedding row)")
        return _("the 0-padding in front (the Embedding has mask_zero=False: each padding step reads a learned "
                 "embedding row) and the start mark (id {id})").format(id=start_id)
    if start_id is None:
        return _("no padding (mask_zero=True: Keras skips it)")
    return _("no padding (mask_zero=True: Keras skips it) and the start mark (id {id})").format(id=start_id)


class SentimentModel:
    """A loaded checkpoint. ``module`` is shared and never changed (no gradients)."""

    def __init__(self, module: SentimentRNN, vocab: Vocab, config: dict, metrics: dict | None = None,
                 path: Path | None = None):
        self.module = module
        self.vocab = vocab
        self.config = config
        self.metrics = metrics or {}
        self.path = path
        self.maxlen = int(config["maxlen"])

    @property
    def arch(self) -> str:
        return self.module.arch

    @property
    def gru_form(self) -> str | None:
        """The GRU's form (``archs.GRU_FORMS``: "reset_after", PyTorch's, or "reset_before", Cho et al.'s);
        None for an LSTM or plain RNN."""
        return form(self.module)

    @property
    def imported(self) -> dict | None:
        """Where an imported model came from (config.json's ``source``), None for a model trained here."""
        return self.config.get("source")

    def prefix_note(self, trace: Trace | None = None) -> str | None:
        """What the model read before the review's own words, in words (None: nothing, it starts from zero).

        With a ``trace``: for that review (the pages' caption); without: the rule (the equations). In the
        interface's language."""
        prefix = self.module.prefix
        if prefix is None:
            return None
        what = _what_it_reads(prefix.padding, prefix.start_id)
        if trace is None:
            return _("h₀ is not zero for this model: Keras fed it reviews padded in front to {maxlen} ids, so it reads "
                     "{what} before a review's first word, with the same equations. Each review starts from the state "
                     "after them, which depends on how many padding steps there are.").format(maxlen=prefix.maxlen,
                                                                                               what=what)
        if trace.padding_read == 0 and not trace.start_mark:
            return _("The review fills all {maxlen} steps the model reads, so no padding and no start mark came before "
                     "its first word: it starts from h₀ = 0.").format(maxlen=prefix.maxlen)
        n = trace.padding_read
        if prefix.padding:
            if trace.start_mark:
                read = _("{n:,} padding step and the start mark") if n == 1 else \
                    _("{n:,} padding steps and the start mark")
            else:
                read = _("{n:,} padding step") if n == 1 else _("{n:,} padding steps")
            read = read.format(n=n)
        else:
            read = _("no padding and the start mark") if trace.start_mark else _("no padding")
        return _("Before the first word this model read {read}, as Keras's pad_sequences(maxlen={maxlen}) feeds it "
                 "({what}). The charts show the review's own words, starting from the state after them "
                 "(‖h₀‖ = {norm:.3f}).").format(read=read, maxlen=prefix.maxlen, what=what,
                                                 norm=float(np.linalg.norm(trace.h0)))

    @property
    def name(self) -> str:
        return self.path.name if self.path else self.arch

    def encode(self, text: str):
        """(tokens with spans that will be read, their ids, total token count)."""
        if not isinstance(text, str):
            raise ValueError("a review must be text")  # noqa: TRY004 -- callers show ValueError as a message
        tokens = tokenize_with_spans(text)
        if not tokens:
            raise ValueError("the review contains no words")
        used = tokens[-self.maxlen:]
        return used, np.asarray(self.vocab.encode([t.text for t in used]), dtype=np.int64), len(tokens)

    def encode_ids(self, text: str) -> np.ndarray:
        """The ids ``encode`` gives, without the spans: the fast path for scoring many reviews (the same tokens,
        ``text.tokenize`` against ``tokenize_with_spans``: tested)."""
        if not isinstance(text, str):
            raise ValueError("a review must be text")  # noqa: TRY004 -- callers show ValueError as a message
        tokens = tokenize(text)
        if not tokens:
            raise ValueError("the review contains no words")
        return np.asarray(self.vocab.encode(tokens[-self.maxlen:]), dtype=np.int64)

    def predict_proba(self, texts: list[str], batch_size: int = 256, workers: int = 1) -> np.ndarray:
        """P(positive) for each text. ValueError when a text holds no words. ``workers``: see ``predict_ids``."""
        seqs = []
        for i, text in enumerate(texts):
            try:
                seqs.append(self.encode_ids(text))
            except ValueError as e:
                raise ValueError(f"review {i + 1}: {e}" if len(texts) > 1 else str(e)) from None
        return self.predict_ids(seqs, batch_size, workers)

    def predict_ids(self, seqs: list[np.ndarray], batch_size: int = 256, workers: int = 1) -> np.ndarray:
        """P(positive) for non-empty id sequences, batched by length. ``workers`` > 1 runs that many batches at
        once on threads (torch releases the interpreter), each on one torch thread: on a many-review job that
        keeps every core busy better than one batch at a time on several threads. Each batch is computed as
        it would be alone, so the results are the same but for rounding (one torch thread adds up in another
        order than two: differences of about 1e-7)."""
        return self._by_length(seqs, batch_size, lambda ids: torch.sigmoid(self.module(ids)), np.float64, (),
                               workers)

    @torch.no_grad()
    def final_states(self, seqs: list[np.ndarray], batch_size: int = 512) -> np.ndarray:
        """[N, H] hidden state after each non-empty id sequence's last word, batched by length."""
        return self._by_length(seqs, batch_size, self.module.final_hidden, np.float32,
                               (self.module.rnn.hidden_size,))

    def _by_length(self, seqs: list[np.ndarray], batch_size: int, fn, dtype: type, shape: tuple = (),
                   workers: int = 1) -> np.ndarray:
        """``fn`` of padded batches of similar length, put back in the order of ``seqs`` (``workers`` at once)."""
        out = np.empty((len(seqs), *shape), dtype=dtype)
        device = self.module.embedding.weight.device

        @torch.inference_mode()
        def run(idx: np.ndarray) -> np.ndarray:
            batch = [seqs[i] for i in idx]
            return fn(torch.from_numpy(pad_sequences(batch, max(len(s) for s in batch))).to(device)).cpu().numpy()

        batches = length_batches(np.array([len(s) for s in seqs]), batch_size, None)
        if workers <= 1 or len(batches) < 2:
            for idx in batches:
                out[idx] = run(idx)
            return out
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one torch thread per worker: the workers share the cores between them
        try:
            with ThreadPoolExecutor(workers) as pool:
                for idx, got in zip(batches, pool.map(run, batches)):
                    out[idx] = got
        finally:
            torch.set_num_threads(threads)
        return out

    def trace(self, text: str | list[str]) -> Trace | list[Trace]:
        """Gates, hidden states and running verdict for a text (or a list of texts)."""
        if isinstance(text, list):
            return self._trace_many(text)
        return self._trace_many([text])[0]

    def _trace_many(self, texts: list[str], batch_size: int = 128) -> list[Trace]:
        encoded = [self.encode(t) for t in texts]
        results: list[dict] = [{}] * len(encoded)
        for idx, batch in trace_batches(self.module, [e[1] for e in encoded], batch_size):
            for i, r in zip(idx, batch):
                results[i] = r
        traces = []
        prefix = self.module.prefix
        for text, (tokens, ids, total), r in zip(texts, encoded, results):
            lead = prefix.ids(len(ids)) if prefix else []
            traces.append(Trace(
                text=text,
                tokens=[text[t.start:t.end] for t in tokens],
                spans=[(t.start, t.end) for t in tokens],
                ids=ids,
                gates=r["gates"],
                hidden=r["hidden"],
                step_proba=r["step_proba"],
                proba=float(r["step_proba"][-1]),
                truncated=total > len(tokens),
                total_tokens=total,
                arch=self.arch,
                words=[t.text for t in tokens],
                initial=np.concatenate(r["initial"]) if prefix else None,
                padding_read=prefix.padding_steps(len(ids)) if prefix else 0,
                start_mark=bool(lead) and lead[-1] == prefix.start_id,
                unk_id=self.vocab.unk_id,
            ))
        return traces


def load_model(path: str | os.PathLike) -> SentimentModel:
    """Load a checkpoint folder (``models/gru``...). Raises CheckpointError naming a bad file."""
    module, vocab, config, metrics = load_checkpoint(path)
    return SentimentModel(module, vocab, config, metrics, Path(path))
