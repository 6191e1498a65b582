"""Start and stop apiserver_emulator.py for tests; small HTTP helpers (standard library only)."""

import http.client
import json
import os
import select
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "apiserver_emulator.py")
PYTHON = "/usr/bin/python3"


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Poll predicate until it returns a truthy value or the deadline passes (then fail)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def make_certs(directory):
    """A CA and a server certificate for 127.0.0.1 made with openssl; returns their paths."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=emulator-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    return {k: os.path.join(directory, v) for k, v in
            (("ca", "ca.crt"), ("cert", "server.crt"), ("key", "server.key"))}


def kubeconfig_for(directory, emulator, token="t"):
    """A kubeconfig in `directory` for the emulator (bearer `token`, namespace default); its path."""
    path = os.path.join(directory, "kubeconfig")
    with open(path, "w") as out:
        out.write("apiVersion: v1\nkind: Config\n"
                  "clusters:\n- name: e\n  cluster: {server: '%s'}\n"
                  "users:\n- name: u\n  user: {token: %s}\n"
                  "contexts:\n- name: c\n  context: {cluster: e, user: u, namespace: default}\n"
                  "current-context: c\n" % (emulator.url, token))
    return path


class Emulator:
    """One emulator process on a free port. Use as a context manager, or start()/stop()."""

    def __init__(self, *args, tls=None):
        self.args = list(args)
        self.tls = tls  # make_certs() result, or None for plain HTTP
        self.proc = None
        self.port = None
        self.stderr = tempfile.TemporaryFile()

    def start(self):
        cmd = [PYTHON, EMULATOR, "--port", "0", *self.args]
        if self.tls:
            cmd += ["--tls-cert", self.tls["cert"], "--tls-key", self.tls["key"]]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr)
        deadline = time.monotonic() + 15
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, remaining))
            if not ready:
                self.stop()
                raise AssertionError("the emulator did not start: " + self.stderr_text())
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                self.stop()
                raise AssertionError("the emulator exited: " + self.stderr_text())
            line += chunk
        text = line.decode().strip()
        scheme = "https" if self.tls else "http"
        assert text.startswith("listening on 127.0.0.1:"), text
        self.port = int(text.rsplit(":", 1)[1])
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        return self

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stdout.close()
        self.stderr.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- HTTP --------------------------------------------------------------------------------

    def ssl_context(self):
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.tls["ca"])

    def request(self, method, path, body=None, token=None, content_type="application/json",
                headers=None):
        """Returns (status, headers, parsed JSON body or text)."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ssl_context()) as resp:
                status, hdrs, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, e.headers, e.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, hdrs, parsed

    def control(self, method, path, body=None):
        status, _, parsed = self.request(method, "/_emulator/" + path, body)
        assert status == 200, (status, parsed)
        return parsed

    def put_object(self, obj):
        return self.control("PUT", "objects", obj)


class RawWatch:
    """A watch read off a plain socket, so the tests see the chunked framing itself."""

    def __init__(self, port, path, token=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                          f"Accept: application/json\r\n\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in
                        (line.split(":", 1) for line in lines[1:] if ":" in line)}
        self.ended = False   # the terminating zero-length chunk was received
        self.cut = False     # the connection closed without the terminating chunk

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker)
        out, self.buf = self.buf[:i], self.buf[i + len(marker):]
        return out

    def next_chunk(self, timeout=10):
        """The next chunk's bytes; None at the terminating chunk or when the connection drops."""
        self.sock.settimeout(timeout)
        try:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self.ended = True
                return None
            while len(self.buf) < size + 2:
                self._fill()
            chunk, self.buf = self.buf[:size], self.buf[size:]
            if self.buf[:2] != b"\r\n":
                raise AssertionError("a chunk is not followed by CRLF")
            self.buf = self.buf[2:]
            return chunk
        except (EOFError, ConnectionResetError):
            self.cut = True
            return None

    def next_event(self, timeout=10):
        """One event; each event must be exactly one chunk holding one JSON line."""
        chunk = self.next_chunk(timeout)
        if chunk is None:
            return None
        assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1, chunk
        return json.loads(chunk)

    def close(self):
        self.sock.close()
