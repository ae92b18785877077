"""A real local HTTP server speaking the OpenAI, Anthropic and Gemini wire formats, for SDK tests.

Each route replies from a scripted queue (normal answer, 429 with retry-after, 500, slow, malformed JSON,
empty text, a dropped connection) and records every request it received, so tests assert on what actually
went over the wire. `trouble(seconds, step)` answers every request with `step` for a while (a 429 storm,
a hanging server); `responder(route, body) -> text` makes normal answers depend on the request.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT = "<think>ok</think><action>MoveForward</action>"


def _body(route: str, text: str | None, model: str = "fake") -> dict:
    if route == "openai":
        return {"id": "x", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230}}
    if route == "anthropic":
        content = [] if text is None else [{"type": "text", "text": text}]
        return {"id": "msg", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1100, "output_tokens": 25}}
    parts = [] if text is None else [{"text": text}]
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 20, "totalTokenCount": 1020,
                              "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 226},
                                                      {"modality": "IMAGE", "tokenCount": 774}]},
            "modelVersion": model}


class FakeAPI:
    def __init__(self, port: int = 0, on_request=None, responder=None, host: str = "127.0.0.1") -> None:
        """`on_request(route, body)` is called with each request (the fake vLLM writes them to a file)."""
        self.script: dict[str, deque] = {"openai": deque(), "anthropic": deque(), "gemini": deque()}
        self.requests: list[tuple[str, str, dict, dict]] = []  # (route, path, headers, json body)
        self.healthy = True  # what GET /health answers (vLLM's readiness endpoint)
        self.responder = responder
        self.trouble_s, self.trouble_until, self.trouble_step, self.troubled = 0.0, 0.0, None, 0
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path != "/health":
                    self.send_error(404)
                    return
                self.send_response(200 if api.healthy else 503)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                route = ("openai" if self.path.endswith("/chat/completions") else
                         "anthropic" if self.path.endswith("/messages") else
                         "gemini" if ":generateContent" in self.path else None)
                if route is None:
                    self.send_error(404)
                    return
                body_in = json.loads(raw or b"{}")
                with api._lock:
                    api.requests.append((route, self.path, dict(self.headers), body_in))
                    if api.trouble_s:  # the trouble window opens at the first request after trouble()
                        api.trouble_until, api.trouble_s = time.monotonic() + api.trouble_s, 0.0
                    if time.monotonic() < api.trouble_until:
                        step = api.trouble_step
                        api.troubled += 1
                    elif api.script[route]:
                        step = api.script[route].popleft()
                    else:
                        step = ("text", api.responder(route, body_in) if api.responder else DEFAULT)
                if on_request:
                    on_request(route, body_in)
                kind, arg = step
                if kind == "close":  # drop the connection without a reply
                    self.close_connection = True
                    return
                if kind == "slow":
                    time.sleep(arg)
                    kind, arg = "text", api.responder(route, body_in) if api.responder else DEFAULT
                if kind == "echo_auth":  # a 401 quoting the credentials it got, as some servers do
                    kind, arg = "status", (401, {})
                    message = f"invalid credentials: {self.headers.get('authorization')}"
                else:
                    message = f"injected {arg[0]}" if kind == "status" else ""
                if kind == "status":
                    code, headers = arg
                    body = json.dumps({"error": {"message": message, "type": "error", "code": code,
                                                 "status": "ERROR"}, "type": "error"}).encode()
                    self.send_response(code)
                    for k, v in headers.items():
                        self.send_header(k, v)
                elif kind == "malformed":
                    body = b'{"choices": [ this is not json'
                    self.send_response(200)
                else:
                    body = json.dumps(_body(route, arg if kind == "text" else None)).encode()
                    self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def trouble(self, seconds: float, step) -> None:
        """Answer every request with `step` for `seconds` from the next request on (then normally again)."""
        with self._lock:
            self.trouble_s, self.trouble_until, self.trouble_step = seconds, 0.0, step

    def queue(self, route: str, *steps) -> None:
        self.script[route].extend(steps)

    def bodies(self, route: str) -> list[dict]:
        return [b for r, _, _, b in self.requests if r == route]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
