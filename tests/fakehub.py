"""A local stand-in for the Hugging Face hub and for plain download servers (GitHub release
files, tiktoken's BPE files), on 127.0.0.1, for the prefetch tests: huggingface_hub talks to
it through HF_ENDPOINT exactly as it talks to huggingface.co (repo info, tree listing,
HEAD and GET of resolve URLs), so snapshot_download, its cache layout and its offline
completeness check are the real ones.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    """repos: {(kind, repo_id): {path: bytes}} with kind "model" or "dataset"; static:
    {url path: bytes} served as plain files. `requests` logs (method, path)."""

    def __init__(self, repos: dict | None = None, static: dict | None = None):
        self.repos = {key: dict(files) for key, files in (repos or {}).items()}
        self.static = dict(static or {})
        self.requests: list[tuple[str, str]] = []
        self.refused: set[str] = set()  # repo ids answered 401 (gated, no token)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):  # noqa: N802
                hub._serve(self, head=True)

            def do_GET(self):  # noqa: N802
                hub._serve(self, head=False)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @staticmethod
    def commit(files: dict) -> str:
        digest = hashlib.sha1()
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha1(files[path]).digest())
        return digest.hexdigest()

    def _find(self, kind: str, rest: str) -> tuple[str, str] | None:
        """(repo id, the rest of the path) for a path starting with a known repo id."""
        for k, repo in self.repos:
            if k == kind and (rest == repo or rest.startswith(repo + "/")):
                return repo, rest[len(repo) + 1 :]
        return None

    def _send(self, h, status: int, body: bytes, headers: dict | None = None, head: bool = False) -> None:
        h.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            h.send_header(name, value)
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _json(self, h, payload, head=False) -> None:
        self._send(h, 200, json.dumps(payload).encode(), {"Content-Type": "application/json"}, head)

    def _serve(self, h, head: bool) -> None:
        parsed = urllib.parse.urlparse(h.path)
        path = urllib.parse.unquote(parsed.path)
        self.requests.append(("HEAD" if head else "GET", path))
        if path in self.static:
            return self._send(h, 200, self.static[path], {"Content-Type": "application/octet-stream"}, head)
        if path.startswith("/api/"):
            kind_plural, _, rest = path[len("/api/") :].partition("/")
            kind = {"models": "model", "datasets": "dataset"}.get(kind_plural)
            found = kind and self._find(kind, rest)
            if not found:
                return self._send(h, 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}, head)
            repo, tail = found
            if repo in self.refused:
                return self._send(h, 401, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo"}, head)
            files = self.repos[(kind, repo)]
            commit = self.commit(files)
            if tail.startswith("revision/"):
                siblings = [{"rfilename": p} for p in sorted(files)]
                return self._json(h, {"id": repo, "sha": commit, "siblings": siblings, "private": False}, head)
            if tail.startswith("tree/"):
                entries = [
                    {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": p}
                    for p, data in sorted(files.items())
                ]
                return self._json(h, entries, head)
            return self._send(h, 404, b"{}", {}, head)
        kind, rest = ("dataset", path[len("/datasets/") :]) if path.startswith("/datasets/") else ("model", path[1:])
        found = self._find(kind, rest)
        if found and found[1].startswith("resolve/"):
            repo, tail = found
            if repo in self.refused:
                return self._send(h, 401, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo"}, head)
            files = self.repos[(kind, repo)]
            _, _, after = tail.partition("/")
            _, _, filename = after.partition("/")  # resolve/<revision>/<filename>
            if filename in files:
                data = files[filename]
                headers = {
                    "X-Repo-Commit": self.commit(files),
                    "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                    "Content-Type": "application/octet-stream",
                }
                return self._send(h, 200, data, headers, head)
            return self._send(h, 404, b"{}", {"X-Error-Code": "EntryNotFound"}, head)
        self._send(h, 404, b"not found", {}, head)
