"""``python -m gru_core <command>``: train, evaluate, predict, stats, download-imdb, bench."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

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
                                   "Rotten Tomatoes, and save a checkpoint folder atomically.")
    t.add_argument("--arch", choices=("gru", "lstm", "rnn"), default=d.arch)
    t.add_argument("--out", required=True, help="checkpoint folder to write, e.g. models/my-gru")
    t.add_argument("--epochs", type=_positive_int, default=d.epochs)
    t.add_argument("--batch-size", type=_positive_int, default=d.batch_size)
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

    b = sub.add_parser("bench", help="trace/native ratio, training-step ratio, evaluation throughput")
    b.add_argument("--model", default="models/gru")
    b.add_argument("--data", help=f"IMDB archive or folder (default: ${ENV_IMDB}, then data/)")
    b.add_argument("--steps", type=_positive_int, default=20, help="training steps timed per loop")
    return p


def _train(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .childproc import die_with_parent, lower_priority
    from .experiment import train_and_save
    from .progress import ProgressWriter
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

    command = "python -m gru_core " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    try:
        folder, m = train_and_save(cfg, a.out, a.data, a.rt_data, command, progress, evaluate_test=not a.no_test,
                                   stop=stop, phase=writer.phase if writer else None,
                                   replace_existing=not a.no_replace)
    except TrainingStopped as e:
        print(e)
        if writer:
            writer.end("stopped", message=str(e))
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
    m = evaluate_split(model, split)
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
    from .predictor import load_model
    from .stats import write_stats

    test = load_imdb("test", a.data)
    for path in a.model:
        print(f"wrote {write_stats(load_model(path), test, a.sample, a.seed)}")
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
        from .bench import run_bench
        run_bench(args.model, args.data, args.steps)
        return 0
    except (CheckpointError, DataNotFoundError, DownloadError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
