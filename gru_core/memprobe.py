"""Peak extra memory of one inference batch, measured in this (fresh) process.

    python -m gru_core.memprobe MODEL_DIR BATCH N_WORDS   -> {"peak_extra_bytes": ...}

Linux resets the peak-RSS mark (VmHWM) when 5 is written to /proc/self/clear_refs;
the peak during the batch minus the resident size just before it is what the
batch needed. Prints null where the kernel does not offer this.
"""
from __future__ import annotations

import json
import sys


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def main(argv: list[str]) -> None:
    from .compare import review_of
    from .predictor import load_model

    path, batch, n_words = argv[0], int(argv[1]), int(argv[2])
    model = load_model(path)
    seqs = [model.encode(review_of(model, n_words, seed))[1] for seed in range(batch)]
    model.predict_ids(seqs[:1])  # load kernels and libraries first
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_kb("VmRSS")
        model.predict_ids(seqs, batch_size=batch)
        extra = max(_status_kb("VmHWM") - before, 0) * 1024
    except OSError:
        extra = None
    print(json.dumps({"peak_extra_bytes": extra}))


if __name__ == "__main__":
    main(sys.argv[1:])
