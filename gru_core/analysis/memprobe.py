"""Peak extra memory of one inference batch, measured in a fresh process.

    python -m gru_core.analysis.memprobe MODEL_DIR BATCH N_WORDS   -> {"peak_extra_bytes": ...}

Linux resets the peak-RSS mark (VmHWM) when 5 is written to /proc/self/clear_refs;
the peak during the work minus the resident size just before it is what the work
needed. Where the kernel does not offer this, or a reading makes no sense, the
probe raises ``MemoryProbeError``: a broken probe must never read as "no memory".
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

STATUS = "/proc/self/status"
CLEAR_REFS = "/proc/self/clear_refs"
BATCH, N_WORDS = 256, 200  # the batch whose peak is measured: reviews × words


class MemoryProbeError(RuntimeError):
    """The peak memory could not be measured (no kernel support, a failed child, a nonsensical reading)."""


def _status_kb(field: str) -> int:
    with open(STATUS) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise MemoryProbeError(f"{field} not in {STATUS}")


def peak_extra_bytes(work: Callable[[], object]) -> int:
    """Bytes of resident memory ``work()`` added at its peak, in this process."""
    try:
        with open(CLEAR_REFS, "w") as f:
            f.write("5")  # reset the peak mark to the current resident size
        before = _status_kb("VmRSS")
        work()
        peak = _status_kb("VmHWM")
    except OSError as e:
        raise MemoryProbeError(f"the kernel offers no peak-memory reset here ({e})") from e
    if peak < before:
        raise MemoryProbeError(f"peak resident size {peak} kB below the size before the work ({before} kB): "
                               "the peak mark was not reset")
    return (peak - before) * 1024


def peak_inference_memory(model_path: str | Path, batch: int = BATCH, n_words: int = N_WORDS) -> int:
    """Extra resident bytes at the peak of scoring one batch of ``batch`` reviews of ``n_words`` words.

    Measured in a fresh Python process so that memory the allocator kept from
    earlier work cannot hide the cost. Raises ``MemoryProbeError`` when it cannot.
    """
    cmd = [sys.executable, "-m", "gru_core.analysis.memprobe", str(Path(model_path).resolve()), str(batch), str(n_words)]
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300,
                              cwd=Path(__file__).resolve().parents[2])
    except (subprocess.SubprocessError, OSError) as e:
        raise MemoryProbeError(f"the memory probe could not run: {e}") from e
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise MemoryProbeError(f"the memory probe failed: {last}")
    try:
        return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_extra_bytes"])
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise MemoryProbeError(f"the memory probe printed no reading: {done.stdout[-200:]!r}") from e


def inference_memory(folder: str | Path | None) -> dict:
    """Peak inference memory of one batch measured in a fresh process: ``peak_bytes`` (None when it could not be
    measured, with ``error`` saying why), the conditions (``batch``, ``words``) and the machine (``hardware``).
    The one record that stats.json stores and the live measurement shows."""
    from ..experiment import hardware

    try:
        if folder is None:
            raise MemoryProbeError("the model has no folder to load in a fresh process")
        peak: int | None = peak_inference_memory(folder)
        error = None
    except MemoryProbeError as e:
        peak, error = None, str(e)
    return {"peak_bytes": peak, "error": error, "batch": BATCH, "words": N_WORDS, "hardware": hardware()}


def main(argv: list[str]) -> None:
    from ..examples import review_of
    from ..predictor import load_model

    path, batch, n_words = argv[0], int(argv[1]), int(argv[2])
    model = load_model(path)
    seqs = [model.encode(review_of(model, n_words, seed))[1] for seed in range(batch)]
    model.predict_ids(seqs[:1])  # load kernels and libraries first
    extra = peak_extra_bytes(lambda: model.predict_ids(seqs, batch_size=batch))
    print(json.dumps({"peak_extra_bytes": extra}))


if __name__ == "__main__":
    main(sys.argv[1:])
