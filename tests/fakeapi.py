"""A real local HTTP server speaking the OpenAI, Anthropic and Gemini wire formats, for SDK tests.

Each route replies from a scripted queue (normal answer, 429 with retry-after, 500, slow, malformed JSON,
empty text) and records every request it received, so tests assert on what actually went over the wire.
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
    def __init__(self, port: int = 0, on_request=None) -> None:
        """`on_request(route, body)` is called with each request (the fake vLLM writes them to a file)."""
        self.script: dict[str, deque] = {"openai": deque(), "anthropic": deque(), "gemini": deque()}
        self.requests: list[tuple[str, str, dict, dict]] = []  # (route, path, headers, json body)
        self.healthy = True  # what GET /health answers (vLLM's readiness endpoint)
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
                api.requests.append((route, self.path, dict(self.headers), json.loads(raw or b"{}")))
                if on_request:
                    on_request(route, api.requests[-1][3])
                step = api.script[route].popleft() if api.script[route] else ("text", DEFAULT)
                kind, arg = step
                if kind == "slow":
                    time.sleep(arg)
                    kind, arg = "text", DEFAULT
                if kind == "status":
                    code, headers = arg
                    body = json.dumps({"error": {"message": f"injected {code}", "type": "error", "code": code,
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

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def queue(self, route: str, *steps) -> None:
        self.script[route].extend(steps)

    def bodies(self, route: str) -> list[dict]:
        return [b for r, _, _, b in self.requests if r == route]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
