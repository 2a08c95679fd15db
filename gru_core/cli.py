"""``python -m gru_core <command>``: train, evaluate, predict, stats, dynamics, units, slices, cell, bptt,
import-keras, download-imdb, bench."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from .archs import NAMES
from .checkpoint import CheckpointError
from .data import ENV_IMDB, ENV_RT, DataNotFoundError, load_imdb, load_labelled_file, load_rt_polarity
from .download import IMDB_URL, DownloadError, download_imdb
from .train import TrainConfig


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return v


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gru_core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = TrainConfig()

    t = sub.add_parser("train", help="train a GRU, LSTM or RNN on IMDB and save a checkpoint",
                       description="Train on the IMDB training reviews (a validation split is carved out "
                                   "and picks the best epoch), evaluate on the 25,000 test reviews and "
                                   "Rotten Tomatoes, and save a checkpoint folder atomically. Launched as "
                                   "`torchrun --nproc_per_node N -m gru_core train ...` it trains with "
                                   "DistributedDataParallel over N processes (gloo on CPU, NCCL on CUDA); "
                                   "rank 0 reports, evaluates and saves.")
    t.add_argument("--arch", choices=NAMES, default=d.arch)
    t.add_argument("--out", required=True, help="checkpoint folder to write, e.g. models/my-gru")
    t.add_argument("--epochs", type=_positive_int, default=d.epochs)
    t.add_argument("--batch-size", type=_positive_int, default=d.batch_size,
                   help="reviews per step and process (under torchrun a step reads N times as many)")
    t.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (AdamW, warm-up then cosine decay)")
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--maxlen", type=_positive_int, default=d.maxlen, help="words read per review (the last ones)")
    t.add_argument("--vocab-size", type=_positive_int, default=d.vocab_size, help="ids incl. padding and unknown")
    t.add_argument("--embed-dim", type=_positive_int, default=d.embed_dim)
    t.add_argument("--hidden", type=_positive_int, default=d.hidden)
    t.add_argument("--embed-dropout", type=float, default=d.embed_dropout)
    t.add_argument("--dropout", type=float, default=d.dropout)
    t.add_argument("--weight-decay", type=float, default=d.weight_decay)
    t.add_argument("--clip", type=float, default=d.clip, help="gradient-norm clipping (0 = off)")
    t.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="steps of linear learning-rate warm-up")
    t.add_argument("--val-fraction", type=float, default=d.val_fraction)
    t.add_argument("--limit", type=_positive_int, default=None, help="use only N training reviews")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device)
    t.add_argument("--data", help=f"IMDB archive or aclImdb/ folder (default: ${ENV_IMDB}, then data/)")
    t.add_argument("--rt-data", help=f"rt-polarity folder for out-of-domain accuracy (default: ${ENV_RT})")
    t.add_argument("--no-test", action="store_true", help="skip the test-set evaluation")
    t.add_argument("--no-replace", action="store_true",
                   help="never replace an existing model at --out (checked again atomically when saving)")
    t.add_argument("--threads", type=_positive_int, help="torch threads (default: torch's choice)")
    t.add_argument("--nice", type=int, default=0, help="lower this process's priority by N (os.nice)")
    t.add_argument("--progress", help="append progress as JSON lines to this file (for the dashboard)")
    t.add_argument("--stop-file", help="stop cleanly when this file appears: during data preparation nothing is "
                                       "saved, during training the best epoch so far is, the evaluation is skipped")
    t.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # the dashboard: end when it ends

    e = sub.add_parser("evaluate", help="accuracy, precision, recall, F1 and confusion matrix")
    e.add_argument("--model", required=True, help="checkpoint folder, e.g. models/gru")
    e.add_argument("--data", default="imdb-test",
                   help="imdb-test, rt-polarity, or a file of 'label<TAB>text' lines (label 1/0/pos/neg)")
    e.add_argument("--imdb", help=f"IMDB archive or folder (default: ${ENV_IMDB}, then data/)")
    e.add_argument("--rt-data", help=f"rt-polarity folder (default: ${ENV_RT})")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    pr = sub.add_parser("predict", help="P(positive) and label for each review")
    pr.add_argument("--model", default="models/gru", help="checkpoint folder (default: models/gru)")
    pr.add_argument("--json", action="store_true", help="one JSON object per line: text, p_positive, label")
    pr.add_argument("texts", nargs="+", help="reviews to score, or - to read one review per line from stdin")

    dl = sub.add_parser("download-imdb", help="fetch the official aclImdb_v1.tar.gz (MD5-checked)")
    dl.add_argument("--dest", default=str(Path(__file__).resolve().parent.parent / "data"), help="folder to write to")
    dl.add_argument("--url", default=IMDB_URL, help=argparse.SUPPRESS)

    st = sub.add_parser("stats", help="test-set statistics for the comparison page, written to MODEL/stats.json",
                        description="Predictions on every IMDB test review, gate saturation and gradient by "
                                    "position on a random sample; written next to the model.")
    st.add_argument("--model", required=True, action="append", help="checkpoint folder (repeatable)")
    st.add_argument("--sample", type=_positive_int, default=500, help="test reviews for saturation and gradients")
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--data", help=f"IMDB archive or folder (default: ${ENV_IMDB}, then data/)")

    _dynamics_parser(sub)
    _units_parser(sub)
    _slices_parser(sub)
    _cell_parsers(sub)
    _import_keras_parser(sub)

    b = sub.add_parser("bench", help="trace/native ratio, training-step ratio, evaluation throughput")
    b.add_argument("--model", default="models/gru")
    b.add_argument("--data", help=f"IMDB archive or folder (default: ${ENV_IMDB}, then data/)")
    b.add_argument("--steps", type=_positive_int, default=20, help="training steps timed per loop")
    return p


def _stored_analysis_args(p: argparse.ArgumentParser, json_help: str) -> None:
    """The options of a command that reads its result from the model folder, or computes it with the dataset."""
    p.add_argument("--model", required=True, help="checkpoint folder, e.g. models/gru")
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--data", help=f"IMDB archive or folder (default: ${ENV_IMDB}, then data/)")
    p.add_argument("--recompute", action="store_true", help="recompute even when the stored file matches")


def _train_and_test(a: argparse.Namespace, why: str) -> tuple:
    """(train, test) splits for recomputing a stored analysis; DataNotFoundError says ``why`` it was needed."""
    try:
        return load_imdb("train", a.data), load_imdb("test", a.data)
    except DataNotFoundError as e:
        raise DataNotFoundError(f"{why}, and it cannot be computed without the dataset. {e}") from None


def _units_parser(sub) -> None:
    u = sub.add_parser("units", help="the unit atlas: each unit over the test set, and ablations (MODEL/units.json)",
                       description="Per unit: output weight, correlation of the final h with the true label, "
                                   "one-unit classifier accuracy, gate statistics, top contexts and words; and "
                                   "test accuracy with the top-k units ablated. Reads MODEL/units.json when it "
                                   "matches the weights, else computes it from the IMDB test (and training) "
                                   "reviews and writes it there.")
    _stored_analysis_args(u, "print one JSON object: units, ablation")
    u.add_argument("--draws", type=_positive_int, default=5, help="random ablation draws per k")
    u.add_argument("--ablation-reviews", type=_positive_int, default=None,
                   help="run the ablations on N random test reviews (default: all 25,000; each choice is one pass)")


def _import_keras_parser(sub) -> None:
    k = sub.add_parser("import-keras", help="open your own Keras model: convert MODEL.keras|MODEL.h5 to a checkpoint",
                       description="Convert a Keras Embedding -> GRU | LSTM | SimpleRNN -> Dense(1, sigmoid) model "
                                   "(a .keras or .h5 file, read as data: nothing in it runs) and the word index its "
                                   "reviews were encoded with into a checkpoint folder. Reviews are then encoded as "
                                   "keras.datasets.imdb encodes them: start mark 1, unknown 2, word rank + "
                                   "index_from, ids >= num_words read as unknown, padding 0 in front up to maxlen.")
    k.add_argument("model_file", help="the Keras model: MODEL.keras (Keras 3) or MODEL.h5")
    k.add_argument("--word-index", required=True,
                   help="word -> rank JSON, as keras.datasets.imdb.get_word_index() gives (imdb_word_index.json)")
    k.add_argument("--num-words", type=_positive_int, default=5000, help="imdb.load_data's num_words (default 5000)")
    k.add_argument("--maxlen", type=_positive_int, default=500, help="pad_sequences' maxlen (default 500)")
    k.add_argument("--index-from", type=_positive_int, default=3, help="imdb.load_data's index_from (default 3)")
    k.add_argument("--out", required=True, help="checkpoint folder to write, e.g. models/local/my-keras-gru")
    k.add_argument("--no-replace", action="store_true", help="refuse to replace a model already at --out")
    k.add_argument("--error-file", help="also write a refusal there as JSON (an English msgid and its values), for "
                                        "the dashboard to show in its visitor's language")


def _import_keras(a: argparse.Namespace) -> int:
    from .keras_import import KerasImportError, import_keras
    from .predictor import load_model

    try:
        folder = import_keras(a.model_file, a.word_index, a.out, a.num_words, a.maxlen, a.index_from,
                              replace=not a.no_replace)
    except KerasImportError as e:
        if a.error_file:
            Path(a.error_file).write_text(json.dumps(e.message), encoding="utf-8")
        raise
    m = load_model(folder)
    src = m.imported
    form = f", {m.gru_form}" if m.gru_form else ""
    padding = "reads the padding (mask_zero=False)" if src["mask_zero"] is False else "skips the padding (mask_zero=True)"
    print(f"imported {src['file']} ({src['recurrent']}{form}, {m.module.rnn.hidden_size} units, "
          f"{m.vocab.n_words:,} words, maxlen {m.maxlen}; {padding}) -> {folder}")
    return 0


def _units(a: argparse.Namespace) -> int:
    import time

    from .analysis.units import build_index, read_index, summary, write_index
    from .predictor import load_model

    model = load_model(a.model)
    sha = model.config.get("weights_sha256")
    index, why = (None, "recomputing as asked") if a.recompute else read_index(a.model, sha)
    source = "stored index"
    if index is None:
        train, test = _train_and_test(a, why)
        print(f"{why}: computing it from the IMDB test set (a few minutes)", file=sys.stderr)
        start = time.perf_counter()
        index = build_index(model, test, train, draws=a.draws, ablation_reviews=a.ablation_reviews,
                            progress=lambda msg: print(f"  {time.perf_counter() - start:6.0f} s  {msg}",
                                                       file=sys.stderr, flush=True))
        path = write_index(a.model, index)
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        source = "computed"
    out = summary(index, source)
    if a.json:
        print(json.dumps({"model": str(a.model), **out}))
        return 0
    abl = out["ablation"]
    how = "read from the stored index" if source == "stored index" else "computed now"
    print(f"{a.model} ({out['arch']}), {out['test_reviews']:,} test reviews ({how})")
    print("  unit  weight   r(label)  one-unit acc   (10 units most correlated with the label)")
    rows = sorted(out["units"], key=lambda r: -abs(r["label_correlation"] or 0))[:10]
    for r in rows:
        r_text = "   n/a" if r["label_correlation"] is None else f"{r['label_correlation']:+.3f}"
        print(f"  {r['unit']:>4}  {r['output_weight']:+.3f}  {r_text}    {r['one_unit_accuracy']:.4f}"
              f"   up: {', '.join(w for w, _, _ in r['top_words']['up'][:5])}")
    print(f"  accuracy with nothing ablated: {abl['baseline']:.4f} (ablations over {out['ablation_reviews']:,} "
          "test reviews)")
    print("     k  top |r|   top |w|   random (mean ± std)")
    for k in abl["by_correlation"]:
        mean, std = abl["random"][k]
        print(f"  {k:>4}  {abl['by_correlation'][k]:.4f}    {abl['by_weight'][k]:.4f}    {mean:.4f} ± {std:.4f}")
    return 0


def _slices_parser(sub) -> None:
    s = sub.add_parser("slices", help="accuracy on slices of the test set and calibration (MODEL/slices.json)",
                       description="Accuracy with a Wilson 95% interval on fixed slices of the 25,000 IMDB test "
                                   "reviews (words read, stars, negation, contrast, truncated, unknown words) and "
                                   "the expected calibration error. Reads MODEL/slices.json when it matches the "
                                   "weights, else computes it from the IMDB test set and writes it there.")
    _stored_analysis_args(s, "print one object keyed by slice name, each {n, accuracy, ci_low, ci_high}, and ece")


def _slices(a: argparse.Namespace) -> int:
    import time

    from .analysis.slices import SLICES_FILE, cli_summary, compute_slices, read_slices, slice_table, write_slices
    from .predictor import load_model

    model = load_model(a.model)
    data, why = (None, "recomputing as asked") if a.recompute else read_slices(a.model, model.config.get("weights_sha256"))
    source = "read from"
    if data is None:
        try:
            test = load_imdb("test", a.data)
        except DataNotFoundError as e:
            raise DataNotFoundError(f"{why}, and it cannot be computed without the dataset. {e}") from None
        print(f"{why}: computing it from the IMDB test set", file=sys.stderr)
        start = time.perf_counter()
        data = compute_slices(model, test, progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
        path = write_slices(a.model, data)
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        source = "computed into"
    if a.json:
        print(json.dumps(cli_summary(data)))
        return 0
    print(f"{a.model}: {len(data):,} test reviews ({source} {Path(a.model) / SLICES_FILE})")
    print("  slice                                 reviews  accuracy  95% interval")
    for row in slice_table(data).values():
        if row["n"]:
            print(f"  {row['label']:<36} {row['n']:>8,}  {row['accuracy']:.4f}    "
                  f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]")
    print(f"  expected calibration error (10 bins of P(positive)): {cli_summary(data)['ece']:.4f}")
    return 0


def _train(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .distributed import ranks_from_env
    from .experiment import train_and_save
    from .jobs.childproc import die_with_parent, lower_priority
    from .jobs.progress import ProgressWriter
    from .train import TrainingStopped

    if a.parent_pid:
        die_with_parent(a.parent_pid)
    lower_priority(a.nice, a.threads)
    writer = ProgressWriter(a.progress) if a.progress else None
    stop_file = Path(a.stop_file) if a.stop_file else None

    def stop() -> bool:
        return stop_file is not None and stop_file.exists()

    cfg = TrainConfig(arch=a.arch, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                      maxlen=a.maxlen, vocab_size=a.vocab_size, embed_dim=a.embed_dim, hidden=a.hidden,
                      embed_dropout=a.embed_dropout, dropout=a.dropout, weight_decay=a.weight_decay,
                      clip=a.clip, warmup_steps=a.warmup_steps, val_fraction=a.val_fraction, limit=a.limit, device=a.device)
    bar = None

    def progress(ev) -> None:
        nonlocal bar
        if writer:
            writer(ev)
        if ev.kind == "step":
            if bar is None:
                bar = tqdm(total=ev.steps_per_epoch, desc=f"epoch {ev.epoch}/{cfg.epochs}", unit="batch",
                           leave=False, file=sys.stderr)
            bar.update(1)
            bar.set_postfix(loss=f"{ev.loss:.4f}", acc=f"{ev.acc:.4f}", refresh=False)
        else:
            if bar is not None:
                bar.close()
                bar = None
            h = ev.history[-1]
            print(f"epoch {h['epoch']}/{cfg.epochs}: train loss {h['train_loss']:.4f} acc {h['train_acc']:.4f} | "
                  f"val loss {h['val_loss']:.4f} acc {h['val_acc']:.4f} | {h['seconds']:.1f} s", flush=True)

    ranks = ranks_from_env()
    launcher = (f"torchrun --nnodes {ranks.world // ranks.local_world} --nproc_per_node {ranks.local_world}"
                if ranks.distributed else "python")
    command = f"{launcher} -m gru_core " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    try:
        folder, m = train_and_save(cfg, a.out, a.data, a.rt_data, command, progress, evaluate_test=not a.no_test,
                                   stop=stop, phase=writer.phase if writer else None,
                                   replace_existing=not a.no_replace)
    except TrainingStopped as e:
        if ranks.main:
            print(e)
        if writer:
            writer.end("stopped", message=str(e))
        return 0
    if folder is None:  # another process of a torchrun job: rank 0 reports and saves
        return 0
    if writer:
        writer.end("stopped" if stop() else "done", str(folder), m)
    print(f"best epoch {m['best_epoch']} (val acc {m['val_acc']:.4f}); saved {folder}")
    if "imdb_test" in m:
        print(f"IMDB test accuracy {m['imdb_test']['accuracy']:.4f} on {m['imdb_test']['n']:,} reviews")
        rt = m["rt_polarity"]
        print(f"Rotten Tomatoes accuracy {rt['accuracy']:.4f}" if "accuracy" in rt else rt["error"])
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from .experiment import evaluate_split
    from .predictor import load_model

    model = load_model(a.model)
    if a.data == "imdb-test":
        split = load_imdb("test", a.imdb)
    elif a.data == "rt-polarity":
        split = load_rt_polarity(a.rt_data)
    else:
        split = load_labelled_file(a.data)
    m = evaluate_split(model, split, workers=os.cpu_count() or 1)  # a command of its own: every core
    if a.json:
        print(json.dumps({"model": str(a.model), "data": a.data, **m}))
        return 0
    (tn, fp), (fn, tp) = m["confusion"]
    print(f"{a.model} on {a.data} ({m['n']:,} reviews)")
    for k in ("accuracy", "precision", "recall", "f1"):
        print(f"  {k:<10} {m[k]:.4f}")
    print("  confusion      pred neg  pred pos")
    print(f"    true neg  {tn:>10,}{fp:>10,}")
    print(f"    true pos  {fn:>10,}{tp:>10,}")
    return 0


def _predict(a: argparse.Namespace) -> int:
    from .predictor import load_model

    model = load_model(a.model)
    texts = [line.rstrip("\n") for line in sys.stdin] if a.texts == ["-"] else a.texts
    status = 0
    for text in texts:
        try:
            p = float(model.predict_proba([text])[0])
        except ValueError as e:
            print(f"error: {e}: {text[:60]!r}", file=sys.stderr)
            status = 1
            continue
        label = "positive" if p > 0.5 else "negative"
        if a.json:
            print(json.dumps({"text": text, "p_positive": p, "label": label}, ensure_ascii=False))
        else:
            print(f"{p:.4f}\t{label}\t{text}")
    return status


def _stats(a: argparse.Namespace) -> int:
    from .analysis.stats import write_stats
    from .predictor import load_model

    test = load_imdb("test", a.data)
    for path in a.model:
        out = write_stats(load_model(path), test, a.sample, a.seed)
        mem = json.loads(out.read_text(encoding="utf-8"))["inference_memory"]
        if mem["peak_bytes"] is None:
            print(f"wrote {out}; peak inference memory NOT measured: {mem['error']}", file=sys.stderr)
        else:
            print(f"wrote {out} (peak inference memory {mem['peak_bytes'] / 2**20:.1f} MiB)")
    return 0


def _cell_parsers(sub) -> None:
    c = sub.add_parser("cell", help="one word through one cell: every term of every gate for one unit",
                       description="Read TEXT and write out the K-th word's step for unit U: each gate's value and "
                                   "its terms (W_i·[U]·x_t, b_i·[U], W_h·[U]·h_{t-1}, b_h·[U]), the new state, and "
                                   "P(positive) after that word. Words count from the first word read (1-based).")
    c.add_argument("--model", default="models/gru", help="checkpoint folder (default: models/gru)")
    c.add_argument("--word", type=int, required=True, help="K: the K-th word read, 1-based")
    c.add_argument("--unit", type=int, help="the unit (default: the one with the largest |output-layer weight|)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("text", nargs="+", help="the review (several arguments are joined with spaces)")
    b = sub.add_parser("bptt", help="backpropagation through time for one review, and one SGD step",
                       description="The loss of TEXT with the given label, ‖∂L/∂h_t‖ at every word, the two paths "
                                   "of the gradient into the state before each word (GRU: z_t ⊙ ∂L/∂h_t and the "
                                   "rest; LSTM: f_t ⊙ ∂L/∂c_t and the rest; RNN: no highway), ‖∂L/∂W‖ for every "
                                   "block, and one plain SGD step of size ALPHA on a private copy of the weights.")
    b.add_argument("--model", default="models/gru", help="checkpoint folder (default: models/gru)")
    b.add_argument("--label", choices=("positive", "negative"), required=True, help="what the review really is")
    b.add_argument("--alpha", type=float, default=0.1, help="learning rate of the SGD step (default 0.1)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("text", nargs="+", help="the review (several arguments are joined with spaces)")


def _cell(a: argparse.Namespace) -> int:
    import numpy as np

    from .analysis.cell_forward import cell_step, parts, summary
    from .analysis.explain import output_weights
    from .archs import ARCHS
    from .predictor import load_model

    model = load_model(a.model)
    trace = model.trace(" ".join(a.text))
    h = trace.hidden.shape[1]
    unit = int(np.argmax(np.abs(output_weights(model)))) if a.unit is None else a.unit
    if not 0 <= unit < h:
        raise ValueError(f"unit must be between 0 and {h - 1}")
    step_ = cell_step(model, trace, a.word - 1)
    if a.json:
        print(json.dumps(step_.unit_json(unit), ensure_ascii=False))
        return 0
    print(f"{a.model} ({ARCHS[model.arch].display}), word {a.word} of {len(trace.tokens)} {step_.word!r}, unit {unit}: "
          f"P(positive) after it {step_.p_positive:.6f}")
    for q in step_.defined():
        terms = ", ".join(f"{e.key} {e.at(unit):+.6f}" for e in {e.key: e for e in parts(q.expr)}.values())
        print(f"  {q.label:<20} {q.expr.at(unit):+.6f}   ({terms})")
    print(f"  {summary(step_, unit)}")
    print(f"  equals the cell's own step to {step_.deviation:.1e} and the trace to {step_.trace_deviation:.1e}")
    return 0


def _bptt(a: argparse.Namespace) -> int:
    from .analysis.bptt import backprop, sgd_path, weight_grad_norms
    from .predictor import load_model

    model = load_model(a.model)
    trace = model.trace(" ".join(a.text))
    label = int(a.label == "positive")
    bp = backprop(model.module, trace.ids, label)
    n = bp.norms()
    path = sgd_path(model, trace.ids, label, a.alpha, 1, [])
    out = {"loss": bp.loss, "words": trace.tokens, "grad_norm_by_word": n["grad_h"].tolist()}
    if bp.grad_c is not None:
        out["cell_grad_norm_by_word"] = n["grad_c"].tolist()
    out |= {"keep_path_norm_by_word": n["keep"].tolist(), "other_path_norm_by_word": n["other"].tolist(),
            "weight_grad_norms": weight_grad_norms(bp, model.module),
            "sgd_step": {"alpha": a.alpha, "p_before": float(path["p_review"][0]),
                         "p_after": float(path["p_review"][1])}}
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"{a.model}: loss {bp.loss:.6f} with label {a.label} (P(positive) {bp.p_positive:.6f}), {len(trace.tokens)} "
          f"words; ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = {bp.first_last_ratio:.3e}")
    print("  word  ‖∂L/∂h_t‖     keep path     other path")
    for t, w in enumerate(trace.tokens):
        print(f"  {t + 1:>4}  {n['grad_h'][t]:.4e}    {n['keep'][t]:.4e}    {n['other'][t]:.4e}   {w}")
    print("  ‖∂L/∂W‖: " + ", ".join(f"{k} {v:.3e}" for k, v in out["weight_grad_norms"].items()))
    s = out["sgd_step"]
    print(f"  one SGD step, alpha {s['alpha']:g}: P(positive) {s['p_before']:.6f} -> {s['p_after']:.6f}")
    return 0


def _dynamics_parser(sub) -> None:
    dy = sub.add_parser("dynamics", help="line attractor, fixed points, word kicks: MODEL/dynamics.json",
                        description="Fixed points of the state update with no word, their linearisation, each "
                                    "word's kick along the slow mode, a bag-of-words baseline and the readout's "
                                    "alignment (Maheswaranathan et al. 2019). Reads MODEL/dynamics.json when it "
                                    "belongs to the model's weights; otherwise computes it with the dataset and "
                                    "writes it.")
    _stored_analysis_args(dy, "print one JSON object with the headline numbers")


def _dynamics(a: argparse.Namespace) -> int:
    import time

    import torch

    from .analysis.dynamics_report import FILE, compute_dynamics, read_dynamics, summary, write_dynamics
    from .predictor import load_model

    t0 = time.perf_counter()
    model = load_model(a.model)
    dyn = None if a.recompute else read_dynamics(a.model, model.config.get("weights_sha256"))
    source = "stored"
    if dyn is None:
        train, test = _train_and_test(a, f"{Path(a.model) / FILE} is missing or belongs to other weights")
        torch.set_num_threads(1)  # one core: the search is many small ops; a second thread only adds overhead
        dyn = compute_dynamics(model, train, test)
        write_dynamics(model, dyn)
        source = "computed"
    out = {"model": str(a.model), "source": source, "seconds_total": round(time.perf_counter() - t0, 2),
           **summary(dyn)}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"{a.model}: dynamics {source} in {out['seconds_total']:.1f} s -> {Path(a.model) / FILE}")
    for k, v in out.items():
        if k not in ("model", "source", "seconds_total", "pc_variance", "pc_variance_fresh"):
            print(f"  {k:<30} {v}")
    print(f"  PC1 / PC1+2 variance          trained {out['pc_variance'][0]:.3f} / {sum(out['pc_variance'][:2]):.3f}"
          f", fresh {out['pc_variance_fresh'][0]:.3f} / {sum(out['pc_variance_fresh'][:2]):.3f}")
    return 0


def _download(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    bar = tqdm(unit="B", unit_scale=True, desc="aclImdb_v1.tar.gz", file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        path = download_imdb(a.dest, url=a.url, progress=progress)
    finally:
        bar.close()
    print(f"saved {path} (MD5 verified). Use it with --data {path} or {ENV_IMDB}={path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "predict":
            return _predict(args)
        if args.command == "download-imdb":
            return _download(args)
        if args.command == "stats":
            return _stats(args)
        if args.command == "dynamics":
            return _dynamics(args)
        if args.command == "units":
            return _units(args)
        if args.command == "slices":
            return _slices(args)
        if args.command == "cell":
            return _cell(args)
        if args.command == "bptt":
            return _bptt(args)
        if args.command == "import-keras":
            return _import_keras(args)
        from .bench import run_bench
        run_bench(args.model, args.data, args.steps)
        return 0
    except (CheckpointError, DataNotFoundError, DownloadError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
