"""Wire-level tests: our UnrealCV server and client, plus the real `unrealcv` package against our server."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest tests/...` does not put the repo root on sys.path
    sys.path.insert(0, str(ROOT))

from embrace_bench.env.client import EngineDisconnected, EngineError, EngineTimeout, ProtocolError, UnrealCVClient  # noqa: E402
from embrace_bench.unrealcv.protocol import encode_frame, encode_message, is_error_reply, read_frame, split_message  # noqa: E402
from embrace_bench.world.server import UnrealCVServer  # noqa: E402


def _encoded(arr, fmt: str) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr) if fmt == "npy" else Image.fromarray(arr, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


_RGBA = np.zeros((6, 8, 4), np.uint8)
_RGBA[..., 0], _RGBA[..., 3] = 200, 255
PNG, NPY = _encoded(_RGBA, "png"), _encoded(np.full((6, 8), 123.5, np.float32), "npy")

# What unrealcv.Client / UnrealCv_API ask for on connect/construction.
COMMANDS = "\n".join([
    "vget /unrealcv/commands", "vget /unrealcv/version", "vget /unrealcv/status",
    "vget /cameras", "vget /camera/[id]/location", "vget /camera/[id]/rotation",
    "vget /camera/[id]/fov", "vget /camera/[id]/lit [format]", "vget /camera/[id]/depth npy",
    "vget /objects", "vget /object/[name]/color", "echo [text]", "boom",
])
TABLE = {
    "vget /unrealcv/commands": COMMANDS,
    "vget /unrealcv/version": "1.1.0",
    "vget /unrealcv/status": "Is Listening\nClient Connected\n9000",
    "vget /cameras": "cam0",
    "vget /camera/0/location": "1.0 2.0 3.0",
    "vget /camera/0/rotation": "0.0 90.0 0.0",
    "vget /camera/0/fov": "90.0",
    "vget /objects": "Cube Sphere",
    "vget /object/Cube/color": "(R=255,G=0,B=0,A=255)",
    "vget /object/Sphere/color": "(R=0,G=255,B=0,A=255)",
    "vget /camera/0/lit png": PNG,
    "vget /camera/0/depth npy": NPY,
}


class Dummy:
    """Stand-in engine: echo, sleep (slow reply), boom (raises), plus the TABLE above."""

    def __init__(self):
        self.seen: list[str] = []

    def handle(self, cmd: str):
        self.seen.append(cmd)
        verb, _, arg = cmd.partition(" ")
        if verb == "echo":
            return arg
        if verb == "sleep":
            time.sleep(float(arg))
            return "slept"
        if verb == "boom":
            raise RuntimeError("kaboom")
        return TABLE.get(cmd, f"error unknown command {cmd}")


@pytest.fixture
def server():
    with UnrealCVServer(Dummy(), port=0, name="dummy") as srv:
        yield srv


def client_for(srv, **kw) -> UnrealCVClient:
    kw.setdefault("connect_timeout", 3.0)
    kw.setdefault("timeout", 3.0)
    return UnrealCVClient("127.0.0.1", srv.port, **kw)


def test_text_and_binary_roundtrip(server):
    with client_for(server) as c:
        assert c.server_name == "dummy"
        assert c.request("echo héllo: a:b") == "héllo: a:b"
        png = c.request("vget /camera/0/lit png")
        assert isinstance(png, bytes) and png == PNG
        assert np.asarray(Image.open(io.BytesIO(png))).shape == (6, 8, 4)
        assert isinstance(c.request("vget /camera/9/lit png"), bytes)  # error text still bytes
        assert is_error_reply(c.request("nope")) and is_error_reply(b"error x")


def test_request_many_in_order(server):
    with client_for(server) as c:
        cmds = [f"echo {i}" for i in range(100)] + ["vget /camera/0/depth npy"]
        out = c.request_many(cmds)
        assert out[:-1] == [str(i) for i in range(100)]
        assert np.load(io.BytesIO(out[-1]))[0, 0] == np.float32(123.5)
    # Raw: the server echoes whatever ids it gets, in order.
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        assert read_frame(s) == b"connected to dummy"
        s.sendall(b"".join(encode_frame(encode_message(i, f"echo {i}")) for i in (7, 3, 100)))
        assert [split_message(read_frame(s)) for _ in range(3)] == [(7, b"7"), (3, b"3"), (100, b"100")]


def test_ids_wrap_below_1e8_and_newlines_rejected(server):
    with client_for(server) as c:
        c._next_id = 10**8 - 2  # real servers only parse 8-digit ids
        assert c.request_many(["echo a", "echo b", "echo c"]) == ["a", "b", "c"]
        assert c._next_id == 1
        with pytest.raises(ValueError):
            c.request("echo a\nb")
        assert c.request("echo ok") == "ok"


def test_handler_exception_becomes_error_reply(server):
    with client_for(server) as c:
        assert c.request_many(["echo a", "boom", "echo b"]) == ["a", "error kaboom", "b"]
        assert c.request("echo still up") == "still up"


def test_timeout_then_next_reply_is_not_stale(server):
    with client_for(server, timeout=0.3) as c:
        t0 = time.monotonic()
        with pytest.raises(EngineTimeout):
            c.request("sleep 0.8")
        assert time.monotonic() - t0 < 0.7
        assert not c.connected
        # The late "slept" reply went to the dropped connection.
        assert c.request("echo after", timeout=3) == "after"
        assert c.request_many(["echo x", "echo y"]) == ["x", "y"]


def _assert_dropped(s: socket.socket) -> None:
    try:  # EOF, or RST when the server closed with our bytes still unread
        assert s.recv(100) == b""
    except ConnectionResetError:
        pass


def test_malformed_client_frame_drops_client_not_server(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        assert read_frame(s).startswith(b"connected")
        s.sendall(b"GARBAGE!" * 4)
        _assert_dropped(s)
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        read_frame(s)
        s.sendall(encode_frame(b"no id here"))
        _assert_dropped(s)
    with client_for(server) as c:
        assert c.request("echo alive") == "alive"


def test_second_client_waits_ungreeted(server):
    first = client_for(server).connect()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as raw:
        raw.settimeout(0.3)
        with pytest.raises(socket.timeout):
            raw.recv(1)  # in the backlog: no greeting
        with pytest.raises(EngineTimeout):
            client_for(server, connect_timeout=0.3).connect()
        assert first.request("echo first") == "first"
        first.close()
        raw.settimeout(3)
        assert read_frame(raw) == b"connected to dummy"


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as s:
        yield s


def _serve_script(listener, *scripts):
    """Accept one connection per script and run it: a tiny fake server."""
    held = []

    def run():
        for script in scripts:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            script(conn)

    threading.Thread(target=run, daemon=True).start()
    return held


def test_connect_times_out_when_never_greeted(listener):
    held = _serve_script(listener, lambda conn: None)  # accepts, says nothing
    c = UnrealCVClient("127.0.0.1", listener.getsockname()[1], connect_timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(EngineTimeout):
        c.connect()
    assert 0.4 < time.monotonic() - t0 < 1.5
    assert len(held) == 1  # it really was accepted (and is kept open)
    held[0].close()


def _answer_with(reply_for):
    def script(conn):
        conn.sendall(encode_frame(b"connected to fake"))
        try:
            while True:
                msg_id, body = split_message(read_frame(conn))
                conn.sendall(reply_for(msg_id, body))
        except EngineError:
            conn.close()
    return script


def test_garbage_then_recover_by_reconnecting(listener):
    _serve_script(listener, *map(_answer_with, [
        lambda i, b: b"\x00GARBAGE" * 3,
        lambda i, b: encode_frame(encode_message(i + 5, b)),  # wrong id
        lambda i, b: (0x12345678).to_bytes(4, "little") + b"\0" * 4,  # bad magic
        lambda i, b: encode_frame(encode_message(i, b)),  # finally a good server
    ]))
    c = UnrealCVClient("127.0.0.1", listener.getsockname()[1], connect_timeout=2, timeout=2)
    for _ in range(3):
        with pytest.raises(ProtocolError):
            c.request("x")
        assert not c.connected
    assert c.request("ok now") == "ok now"
    c.close()


def test_shutdown_mid_request_raises_disconnected():
    srv = UnrealCVServer(Dummy(), port=0).start()
    c = client_for(srv, timeout=10)
    assert c.request("echo hi") == "hi"
    threading.Timer(0.3, srv.shutdown, kwargs={"timeout": 0.1}).start()
    t0 = time.monotonic()
    with pytest.raises(EngineDisconnected):
        c.request("sleep 1.5")
    assert time.monotonic() - t0 < 1.2
    c.close()


SERVER_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from embrace_bench.world.server import UnrealCVServer
def handle(cmd):
    if cmd.startswith("sleep "):
        time.sleep(float(cmd.split()[1]))
    return cmd
srv = UnrealCVServer(handle, port=0)
print(srv.port, flush=True)
srv.serve_forever()
"""


def test_kill_9_server_is_noticed_fast():
    proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        c = UnrealCVClient("127.0.0.1", port, timeout=30, connect_timeout=2)
        assert c.request("hello") == "hello"
        threading.Timer(0.3, os.kill, (proc.pid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(EngineDisconnected):
            c.request("sleep 20")  # in flight when the process dies
        assert time.monotonic() - t0 < 3
        t0 = time.monotonic()
        with pytest.raises(EngineDisconnected):
            c.request("hello")  # reconnect is refused at once
        assert time.monotonic() - t0 < 1
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()


def test_idle_connection_dropped_by_server_reconnects_transparently():
    srv = UnrealCVServer(Dummy(), port=0).start()
    c = client_for(srv)
    assert c.request("echo 1") == "1"
    srv.shutdown()
    srv2 = UnrealCVServer(Dummy(), port=srv.port).start()  # engine restarted on the same port
    try:
        assert c.request("echo 2") == "2"  # EOF seen before sending -> fresh connection
    finally:
        c.close()
        srv2.shutdown()


def test_unix_socket_transport(tmp_path):
    path = str(tmp_path / "ucv.sock")
    with UnrealCVServer(Dummy(), port=0, unix_socket=path) as srv:
        with UnrealCVClient(unix_socket=path, timeout=3) as c:
            assert c.endpoint == f"unix:{path}"
            assert c.request("echo uds") == "uds"
            assert c.request("vget /camera/0/lit png") == PNG
        with client_for(srv) as c:  # TCP still works
            assert c.request("echo tcp") == "tcp"
    assert not os.path.exists(path)  # cleaned up


def test_auto_transport_follows_unrealcvs_switch_to_the_unix_socket():
    # Like UnrealCV on UE 4.27/5.x Linux: TCP for the first client only, then the Unix socket.
    with UnrealCVServer(Dummy(), port=0, unix_after_tcp=True) as srv:
        assert srv.unix_socket == f"/tmp/unrealcv_{srv.port}.socket" and not os.path.exists(srv.unix_socket)
        c = client_for(srv, transport="auto")
        assert c.request("echo a") == "a" and c.endpoint.startswith("tcp:")
        c.close()
        deadline = time.monotonic() + 2
        while not os.path.exists(srv.unix_socket) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.request("echo b") == "b" and c.endpoint == f"unix:{srv.unix_socket}"
        c.close()
        with pytest.raises(EngineTimeout, match="no greeting"):  # TCP is used up, as on Unreal
            client_for(srv, transport="tcp", connect_timeout=0.5).connect()
        fresh = UnrealCVClient("127.0.0.1", srv.port, timeout=3)  # the default (auto): a new worker finds the socket
        assert fresh.request("echo c") == "c" and fresh.endpoint.startswith("unix:")
        fresh.close()
        # Like UnrealCV: a deleted socket file is re-created once the client leaves.
        c.request("echo d")
        os.unlink(srv.unix_socket)
        c.close()
        deadline = time.monotonic() + 2
        while not os.path.exists(srv.unix_socket) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.request("echo e") == "e" and c.endpoint.startswith("unix:")
        c.close()
    assert not os.path.exists(srv.unix_socket)


def test_auto_client_waiting_on_tcp_moves_to_the_unix_socket_when_it_appears():
    # A worker connects while the readiness probe still holds the engine's one TCP slot: UnrealCV never
    # greets it over TCP, but creates its Unix socket when the probe leaves, and the client goes there.
    with UnrealCVServer(Dummy(), port=0, unix_after_tcp=True) as srv:
        probe = client_for(srv, transport="tcp").connect()
        worker = client_for(srv, connect_timeout=5.0)
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("reply", worker.request("echo w")))
        t.start()
        time.sleep(0.3)
        assert "reply" not in result  # no greeting yet: the server is busy with the probe
        probe.close()
        t.join(5)
        assert result.get("reply") == "w" and worker.endpoint == f"unix:{srv.unix_socket}"
        worker.close()


def test_auto_transport_falls_back_to_tcp_from_a_stale_socket_file():
    with UnrealCVServer(Dummy(), port=0) as srv:
        path = f"/tmp/unrealcv_{srv.port}.socket"
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)  # a dead server's file: nobody listens
        try:
            with UnrealCVClient("127.0.0.1", srv.port, timeout=3) as c:
                assert c.request("echo x") == "x" and c.endpoint.startswith("tcp:")
        finally:
            stale.close()
            os.unlink(path)


def test_real_unrealcv_client(server, tmp_path):
    import unrealcv

    cl = unrealcv.Client(("127.0.0.1", server.port))
    try:
        assert cl.connect()
        assert cl.request("vget /unrealcv/status").startswith("Is Listening")
        png = cl.request("vget /camera/0/lit png")
        assert png == PNG
        assert cl.request(["echo a", "boom", "echo b"]) == ["a", "error kaboom", "b"]
    finally:
        cl.disconnect()
    path = str(tmp_path / "u.sock")
    with UnrealCVServer(Dummy(), port=0, unix_socket=path):
        uc = unrealcv.Client(path, "unix")
        try:
            assert uc.connect()
            assert uc.request("echo over-uds") == "over-uds"
        finally:
            uc.disconnect()


def test_real_unrealcv_api(server):
    from unrealcv.api import UnrealCv_API

    api = UnrealCv_API(server.port, "127.0.0.1", (320, 240))
    try:
        assert api.get_server_version() == "1.1.0"
        assert api.cam[0]["location"] == [1.0, 2.0, 3.0] and api.cam[0]["fov"] == "90.0"
        assert api.obj_dict == {"Cube": [255, 0, 0], "Sphere": [0, 255, 0]}
        assert api.client.request("vget /unrealcv/status").startswith("Is Listening")
        img = api.get_image(0, "lit", "png")
        assert img.shape == (6, 8, 3) and img[0, 0].tolist() == [0, 0, 200]  # BGR
        assert api.get_depth(0).shape == (6, 8, 1)
    finally:
        api.client.disconnect()
    seen = server._handle.__self__.seen
    assert seen[:4] == ["vget /unrealcv/commands", "vget /unrealcv/commands",
                        "vget /unrealcv/version", "vget /cameras"]
