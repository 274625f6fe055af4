"""Thread-safe log of every AWS call the emulator received (admin calls excluded)."""

import threading
import time


class CallLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []
        self._seq = 0

    def reset(self):
        with self._lock:
            self._calls = []
            self._seq = 0

    def record(self, req, status, error, started=None):
        now = time.time()
        started = now if started is None else started
        with self._lock:
            self._seq += 1
            self._calls.append({
                "seq": self._seq,
                "time": round(now, 3),
                "startTime": round(started, 3),
                "durationMs": round((now - started) * 1000, 1),
                "service": req.service,
                "region": req.region,
                "action": req.action,
                "attempt": req.attempt,
                "status": status,
                "error": error,
                "params": req.params,
                "instanceIds": list(req.instance_ids),
            })

    def query(self, service=None, action=None):
        with self._lock:
            return [
                c for c in self._calls
                if (service is None or c["service"] == service)
                and (action is None or c["action"] == action)
            ]

    def counts(self):
        out = {}
        with self._lock:
            for c in self._calls:
                key = f"{c['service']}:{c['action']}"
                out[key] = out.get(key, 0) + 1
        return out
