"""A fake app with the generic llm_* instrumentation, served on loopback for real scrapes."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class FakeLLM:
    """Counters grow linearly with time at the configured per-second rates."""

    def __init__(self, models: dict):
        # models: name -> {"requests": r/s, "errors": e/s, "tokens": t/s, "latency": seconds}
        self.models = models
        self.start = time.time()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def exposition(self) -> str:
        t = time.time() - self.start
        lines = ["# TYPE llm_request_total counter", "# TYPE llm_error_total counter",
                 "# TYPE llm_tokens_total counter", "# TYPE llm_request_duration_seconds histogram"]
        for model, m in sorted(self.models.items()):
            requests = m["requests"] * t
            lines.append(f'llm_request_total{{model="{model}",operation="chat"}} {requests}')
            lines.append(f'llm_error_total{{model="{model}",type="timeout"}} {m["errors"] * t}')
            lines.append(f'llm_tokens_total{{model="{model}"}} {m["tokens"] * t}')
            for le in BUCKETS:
                count = requests if m["latency"] <= le else 0
                lines.append(f'llm_request_duration_seconds_bucket{{model="{model}",operation="chat",le="{le}"}} {count}')
            lines.append(f'llm_request_duration_seconds_bucket{{model="{model}",operation="chat",le="+Inf"}} {requests}')
            lines.append(f'llm_request_duration_seconds_sum{{model="{model}",operation="chat"}} {requests * m["latency"]}')
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

            def log_message(self, *args):
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
