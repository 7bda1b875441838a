"""A fake app with the generic llm_* instrumentation, served on loopback for real scrapes."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class FakeLLM:
    """Counters grow linearly with time at the configured per-second rates."""

    def __init__(self, models: dict):
        # models: name -> {"requests": r/s, "errors": e/s, "tokens": t/s, "latency": seconds}
        self.models = models
        # The streaming endpoint's delays (seconds) and what it was asked.
        self.stream = {"ttft": 0.2, "gap": 0.05, "tokens": 8, "slow_ttft": 1.5, "stall": 5.0}
        self.requests: list = []
        self.start = time.time()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def exposition(self) -> str:
        t = time.time() - self.start
        lines = [
            "# TYPE llm_request_total counter",
            "# TYPE llm_error_total counter",
            "# TYPE llm_tokens_total counter",
            "# TYPE llm_request_duration_seconds histogram",
        ]
        for model, m in sorted(self.models.items()):
            requests = m["requests"] * t
            lines.append(f'llm_request_total{{model="{model}",operation="chat"}} {requests}')
            lines.append(f'llm_error_total{{model="{model}",type="timeout"}} {m["errors"] * t}')
            lines.append(f'llm_tokens_total{{model="{model}"}} {m["tokens"] * t}')
            for le in BUCKETS:
                count = requests if m["latency"] <= le else 0
                lines.append(
                    f'llm_request_duration_seconds_bucket{{model="{model}",operation="chat",le="{le}"}} {count}'
                )
            lines.append(
                f'llm_request_duration_seconds_bucket{{model="{model}",operation="chat",le="+Inf"}} {requests}'
            )
            lines.append(
                f'llm_request_duration_seconds_sum{{model="{model}",operation="chat"}} {requests * m["latency"]}'
            )
            lines.append(f'llm_request_duration_seconds_count{{model="{model}",operation="chat"}} {requests}')
        return "\n".join(lines) + "\n"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = fake.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                # /<mode>/v1/chat/completions: an OpenAI-compatible streaming endpoint whose behaviour the
                # test picks by path (see STREAM_MODES); delays come from fake.stream.
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                mode = self.path.strip("/").split("/", 1)[0]
                fake.requests.append({"mode": mode, "body": body, "auth": self.headers.get("Authorization", "")})
                fake.serve_stream(self, mode, body)

            def log_message(self, *args):
                pass

        return Handler

    def serve_stream(self, handler, mode: str, body: dict) -> None:
        """Write one streamed completion in the given mode (healthy, slow_first, stall, error500, close, malformed,
        empty); the delays are fake.stream's ttft (before the first token) and gap (between tokens)."""
        ttft, gap = self.stream["ttft"], self.stream["gap"]
        tokens = min(int(body.get("max_tokens", 16)), self.stream["tokens"])
        if mode == "error500":
            handler.send_response(500)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"{}")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()

        def event(data: str) -> None:
            handler.wfile.write(f"data: {data}\n\n".encode())
            handler.wfile.flush()

        def chunk(text: str) -> str:
            return json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})

        time.sleep(self.stream["slow_ttft"] if mode == "slow_first" else ttft)
        if mode == "malformed":
            event("{not json")
            return
        if mode == "empty":
            event(json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
            event("[DONE]")
            return
        for i in range(tokens):
            if i:
                time.sleep(gap)
            event(chunk(f" {i + 1}"))
            if mode == "stall" and i == 1:
                time.sleep(self.stream["stall"])
                return
            if mode == "close" and i == 1:
                return  # HTTP/1.0: the connection closes here, before [DONE]
        event("[DONE]")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
