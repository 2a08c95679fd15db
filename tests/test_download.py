"""Downloading with an MD5 check and atomic write, against a local HTTP server (no internet)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

from gru_core import cli
from gru_core.data import ENV_IMDB
from gru_core.download import IMDB_FILENAME, IMDB_MD5, DownloadError, download, download_imdb

PAYLOAD = bytes(range(256)) * 1200 + b"tail"  # ~300 KB: several read chunks
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path.startswith("/short"):
            # Promise more than is sent, then hang up.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD) + 10_000))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif self.path.startswith("/chunked-cut"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n" % 100_000 + PAYLOAD[:40_000])
            self.wfile.flush()
            self.close_connection = True
        elif self.path.startswith("/missing"):
            self.send_error(404, "Not Found")
        elif self.path.startswith("/nolength"):
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(PAYLOAD)
            self.close_connection = True
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.hits = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", srv
    srv.shutdown()
    srv.server_close()
    t.join(5)


@pytest.fixture
def base(server):
    return server[0]


@pytest.fixture
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_complete_download_verified(tmp_path, base):
    calls = []
    dest = tmp_path / "sub" / "x.tar.gz"
    out = download(f"{base}/x.tar.gz", dest, md5=PAYLOAD_MD5, progress=lambda d, t: calls.append((d, t)),
                   chunk=1 << 14)
    assert out == dest
    assert dest.read_bytes() == PAYLOAD
    assert _names(dest.parent) == ["x.tar.gz"]
    assert len(calls) > 1
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert all(t == len(PAYLOAD) for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)


def test_download_without_md5_or_length(tmp_path, base):
    calls = []
    dest = download(f"{base}/nolength", tmp_path / "f.bin", progress=lambda d, t: calls.append((d, t)))
    assert dest.read_bytes() == PAYLOAD
    assert calls[-1] == (len(PAYLOAD), None)


def test_wrong_md5_leaves_nothing(tmp_path, base):
    dest = tmp_path / "x.tar.gz"
    with pytest.raises(DownloadError) as ei:
        download(f"{base}/x.tar.gz", dest, md5="0" * 32)
    msg = str(ei.value)
    assert "MD5" in msg and PAYLOAD_MD5 in msg and "0" * 32 in msg
    assert _names(tmp_path) == []


def test_wrong_md5_keeps_existing_file(tmp_path, base):
    dest = tmp_path / "x.tar.gz"
    dest.write_bytes(b"previous")
    with pytest.raises(DownloadError):
        download(f"{base}/x.tar.gz", dest, md5="0" * 32)
    assert dest.read_bytes() == b"previous"
    assert _names(tmp_path) == ["x.tar.gz"]


def test_interrupted_transfer_leaves_nothing(tmp_path, base):
    with pytest.raises(DownloadError) as ei:
        download(f"{base}/short.tar.gz", tmp_path / "x.tar.gz", md5=PAYLOAD_MD5)
    assert "nothing was saved" in str(ei.value)
    assert _names(tmp_path) == []


@pytest.mark.parametrize("path", ["chunked-cut", "missing"])  # a chunked transfer cut short; an HTTP 404
def test_interrupted_transfer_or_http_error_is_download_error(tmp_path, base, path):
    with pytest.raises(DownloadError):
        download(f"{base}/{path}", tmp_path / "x.tar.gz")
    assert _names(tmp_path) == []


def test_unreachable_url(tmp_path, closed_port):
    url = f"http://127.0.0.1:{closed_port}/x.tar.gz"
    with pytest.raises(DownloadError) as ei:
        download(url, tmp_path / "x.tar.gz", timeout=5)
    assert "Could not reach" in str(ei.value) and url in str(ei.value)
    assert _names(tmp_path) == []


@pytest.fixture
def garbage_server():
    """A TCP server that answers every request with a line that is not HTTP."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(10)

    def serve():
        try:
            conn, _ = srv.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage line\r\n\r\n")
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/x"
    srv.close()
    t.join(5)


def test_non_http_reply_is_download_error(tmp_path, garbage_server):
    with pytest.raises(DownloadError):
        download(garbage_server, tmp_path / "x.tar.gz", timeout=5)


# --------------------------------------------------------------------------- download_imdb


def test_download_imdb_fetches_and_verifies(tmp_path, base):
    out = download_imdb(tmp_path, url=f"{base}/x.tar.gz", md5=PAYLOAD_MD5)
    assert out == tmp_path / IMDB_FILENAME
    assert out.read_bytes() == PAYLOAD


def test_download_imdb_skips_verified_file(tmp_path, closed_port):
    dest = tmp_path / IMDB_FILENAME
    dest.write_bytes(PAYLOAD)
    # the URL is unreachable: a download attempt would raise
    out = download_imdb(tmp_path, url=f"http://127.0.0.1:{closed_port}/x.tar.gz", md5=PAYLOAD_MD5)
    assert out == dest and dest.read_bytes() == PAYLOAD


def test_download_imdb_replaces_unverified_file(tmp_path, server):
    base, srv = server
    dest = tmp_path / IMDB_FILENAME
    dest.write_bytes(b"half a file")
    n = len(srv.hits)
    out = download_imdb(tmp_path, url=f"{base}/again.tar.gz", md5=PAYLOAD_MD5)
    assert out.read_bytes() == PAYLOAD
    assert srv.hits[n:] == ["/again.tar.gz"]
    assert _names(tmp_path) == [IMDB_FILENAME]


# The MD5 Stanford's aclImdb_v1.tar.gz is published with (also in torchtext's and TFDS' IMDB loaders).
OFFICIAL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"


def test_download_imdb_checks_the_official_md5_by_default(tmp_path, base):
    """Without an md5 argument a file that is not the official archive is refused, and the message
    names the official checksum; a stale copy at the destination is not trusted either."""
    (tmp_path / IMDB_FILENAME).write_bytes(PAYLOAD)  # a "verified copy" check must not accept it
    with pytest.raises(DownloadError) as e:
        download_imdb(tmp_path, url=f"{base}/not-imdb.tar.gz")
    assert f"has MD5 {PAYLOAD_MD5}, expected {OFFICIAL_MD5}" in str(e.value)
    assert _names(tmp_path) == [IMDB_FILENAME] and (tmp_path / IMDB_FILENAME).read_bytes() == PAYLOAD


def test_official_archive_matches_the_default_md5():
    """Where the official archive itself is at hand (data/ or GRU_EXPLORER_IMDB), its MD5 is the default."""
    candidates = [Path(__file__).resolve().parent.parent / "data" / IMDB_FILENAME]
    if os.environ.get(ENV_IMDB):
        candidates.append(Path(os.environ[ENV_IMDB]))
    found = [p for p in candidates if p.is_file() and p.name == IMDB_FILENAME]
    if not found:
        pytest.skip(f"no {IMDB_FILENAME} (the official archive) here")
    assert hashlib.md5(found[0].read_bytes()).hexdigest() == IMDB_MD5 == OFFICIAL_MD5


# --------------------------------------------------------------------------- CLI


def test_cli_wrong_checksum_returns_2(tmp_path, base, capsys):
    rc = cli.main(["download-imdb", "--dest", str(tmp_path), "--url", f"{base}/x.tar.gz"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and "MD5" in err and IMDB_MD5 in err and "not saved" in err
    assert _names(tmp_path) == []


def test_cli_unreachable_returns_2(tmp_path, closed_port, capsys):
    rc = cli.main(["download-imdb", "--dest", str(tmp_path), "--url", f"http://127.0.0.1:{closed_port}/x.tar.gz"])
    assert rc == 2
    assert "Could not reach" in capsys.readouterr().err
    assert _names(tmp_path) == []


def test_cli_success(tmp_path, base, capsys, monkeypatch):
    monkeypatch.setattr(cli, "download_imdb", functools.partial(download_imdb, md5=PAYLOAD_MD5))
    rc = cli.main(["download-imdb", "--dest", str(tmp_path), "--url", f"{base}/x.tar.gz"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "saved" in out and str(tmp_path / IMDB_FILENAME) in out
    assert (tmp_path / IMDB_FILENAME).read_bytes() == PAYLOAD
