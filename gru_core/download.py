"""Fetch the official IMDB archive: progress bar, MD5 check, atomic write."""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .i18n import _

IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_FILENAME = "aclImdb_v1.tar.gz"


class DownloadError(RuntimeError):
    """The download failed; the message says why in plain words."""


def download(url: str, dest: str | os.PathLike, md5: str | None = None,
             progress: Callable[[int, int | None], None] | None = None, timeout: float = 30.0,
             chunk: int = 1 << 16) -> Path:
    """Download ``url`` to the file ``dest``; verify ``md5``; rename into place only when complete.

    ``progress(bytes_done, bytes_total_or_None)`` is called as data arrives.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.md5()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                resp = urllib.request.urlopen(url, timeout=timeout)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                reason = getattr(e, "reason", e)
                raise DownloadError(_("Could not reach {url} ({reason}). Check the network connection, or download "
                                      "the file elsewhere and pass its path with --data.").format(
                    url=url, reason=reason)) from e
            with resp:
                total = resp.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else None
                try:
                    while block := resp.read(chunk):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
                except (OSError, urllib.error.URLError, http.client.HTTPException) as e:
                    raise DownloadError(_("The download from {url} broke off after {done:,} bytes ({error}); nothing "
                                          "was saved. Run the command again.").format(url=url, done=done,
                                                                                      error=e)) from e
        if total is not None and done != total:
            raise DownloadError(_("The download from {url} ended after {done:,} of {total:,} bytes; nothing was "
                                  "saved. Run the command again.").format(url=url, done=done, total=total))
        if md5 and digest.hexdigest() != md5:
            raise DownloadError(_("The file from {url} has MD5 {digest}, expected {md5}; it was not saved. The file "
                                  "may be damaged or replaced.").format(url=url, digest=digest.hexdigest(), md5=md5))
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def download_imdb(dest_dir: str | os.PathLike, url: str = IMDB_URL, md5: str = IMDB_MD5,
                  progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Fetch ``aclImdb_v1.tar.gz`` into ``dest_dir`` (skipped when a verified copy is there)."""
    dest = Path(dest_dir) / IMDB_FILENAME
    if dest.is_file() and _md5(dest) == md5:
        return dest
    return download(url, dest, md5, progress)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
