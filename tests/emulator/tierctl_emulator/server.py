"""The emulator process: a WSGI middleware in front of moto's server app.

Request flow for an AWS call:
  read body -> identify service/action -> finish due EC2/SSM transitions ->
  artificial latency -> injected fault? -> our own handlers (EC2 stop/start,
  SSM Run Command, EventBridge Scheduler's refusals) -> otherwise moto ->
  record in the call log.
"""

import argparse
import io
import os
import signal
import sys
import threading
import time
from urllib.parse import urlencode

from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                           create_backend_app)
from werkzeug.serving import make_server

from . import ec2_filters  # noqa: F401  (patches moto: EC2 filter wildcards and escapes as AWS)
from . import dynamodb_fast  # noqa: F401  (patches moto: transaction rollback snapshots cost what they touch)
from . import target_health  # noqa: F401  (patches moto: steerable ELBv2 target health)
from . import asg_realism  # noqa: F401  (patches moto: Auto Scaling transition times, steerable states)
from . import admin, ec2_describe, lambda_runtime, scheduler_realism
from .calls import CallLog
from .ec2_realism import Ec2Realism
from .faults import FaultRules, SlowRules
from .protocol import error_code_from_response, error_for, parse_request
from .rds_realism import RdsRealism
from .ssm_guest import SsmGuests


class Emulator:
    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.calls = CallLog()
        self.faults = FaultRules()
        self.slow = SlowRules()
        self.ec2 = Ec2Realism()
        self.ssm = SsmGuests()
        self.rds = RdsRealism()
        self.lambda_runtime = lambda_runtime.LambdaRuntime()
        # moto's DynamoDB backend is not thread-safe (concurrent transactions
        # fail with "dictionary changed size during iteration"); AWS is, so
        # DynamoDB calls are serialised here, after any artificial latency.
        self.dynamodb_lock = threading.Lock()

    def reset(self):
        from moto.moto_api._internal.models import moto_api_backend
        with self.ec2.lock, self.ssm.lock, self.rds.lock:
            moto_api_backend.reset()
            self.ec2.reset()
            self.ssm.reset()
            self.rds.reset()
            self.lambda_runtime.reset()
            self.faults.reset()
            self.faults.reset_stats()
            self.slow.reset()
            self.calls.reset()
            from . import target_health
            target_health.reset()
            asg_realism.reset()

    @staticmethod
    def _read_body(environ):
        """Read the whole body (also chunked uploads) and hand moto a rewound copy."""
        length = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return body

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        body = self._read_body(environ)
        if path.startswith(admin.PREFIX):
            status, headers, out = admin.handle(self, environ["REQUEST_METHOD"], path,
                                                environ.get("QUERY_STRING", ""), body)
            return self._send(start_response, status, headers, out)
        if path.startswith(lambda_runtime.RUNTIME_PREFIX):
            status, headers, out = self.lambda_runtime.handle(
                environ["REQUEST_METHOD"], path, _headers(environ), body)
            return self._send(start_response, status, headers, out)
        started = time.time()
        req = parse_request(environ, body)
        if req.service == "lambda" and lambda_runtime.invoke_path(path):
            req.action = "Invoke"
        self.ec2.tick()
        self.ssm.tick()
        self.rds.tick()
        delay = self.slow.delay_seconds(req)
        if delay:
            time.sleep(delay)
        fault = self.faults.take(req)
        if fault:
            code, (status, headers, out) = fault
            self.calls.record(req, status, code, started)
            return self._send(start_response, status, headers, out)
        try:
            response = None
            if req.service == "ec2":
                response = self.ec2.handle(req) or ec2_describe.handle(
                    req, lambda params: self._moto(_with_form_body(environ, params)),
                    fast=self.ec2.fast_describe)
            elif req.service == "ssm":
                response = self.ssm.handle(req)
            elif req.service == "rds":
                response = self.rds.handle(req)
                if response is None:
                    response = self.rds.annotate(req, self._moto(environ))
            elif req.action == "Invoke" and req.service == "lambda":
                response = self.lambda_runtime.invoke(_headers(environ), body)
            elif req.service == "scheduler":
                response = scheduler_realism.handle(req)
            if response is None and req.service == "dynamodb":
                with self.dynamodb_lock:
                    response = self._moto(environ)
            elif response is None:
                response = self._moto(environ)
        except Exception as exc:  # noqa: BLE001 - report, don't kill the thread
            response = error_for(req, "InternalError", f"emulator error: {exc!r}", 500)
        status, headers, out = response
        self.calls.record(req, status, error_code_from_response(status, headers, out), started)
        return self._send(start_response, status, headers, out)

    def _moto(self, environ):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = int(status.split()[0]), headers

        chunks = self.moto(environ, capture)
        try:
            out = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        headers = captured["headers"]
        if environ["REQUEST_METHOD"] != "HEAD":  # HEAD keeps the size of the object
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return captured["status"], headers, out

    @staticmethod
    def _send(start_response, status, headers, out):
        from http import HTTPStatus
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = list(headers)
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(out))))
        start_response(f"{status} {reason}", headers)
        return [out]


def _headers(environ):
    """The request's headers, lower-case names."""
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    return out


def _with_form_body(environ, params):
    """A copy of `environ` whose form body carries `params` instead."""
    body = urlencode([(k, v) for k, vs in params.items()
                      for v in (vs if isinstance(vs, list) else [vs])]).encode()
    new = dict(environ)
    new["wsgi.input"], new["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return new


def _warm_up():
    """Import the moto services we use now, not on the first (timed) request."""
    import moto.autoscaling.models  # noqa: F401
    import moto.dynamodb.models  # noqa: F401
    import moto.ec2.models  # noqa: F401
    import moto.elb.models  # noqa: F401
    import moto.elbv2.models  # noqa: F401
    import moto.rds.models  # noqa: F401
    import moto.resourcegroupstaggingapi.models  # noqa: F401
    import moto.s3.models  # noqa: F401
    import moto.sns.models  # noqa: F401
    import moto.ssm.models  # noqa: F401
    import moto.scheduler.models  # noqa: F401


def _write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write(str(port))
    os.replace(tmp, path)  # atomic: readers never see a partial file


def _parent_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # a dead child not yet reaped by its own parent is a zombie: treat as gone
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _watch_parent(pid, stop):
    while _parent_alive(pid):
        time.sleep(0.5)
    stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tierctl_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--parent-pid", type=int)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        parser.error("the emulator only binds 127.0.0.1")
    _warm_up()
    emulator = Emulator()
    server = make_server("127.0.0.1", args.port, emulator, threaded=True,
                         request_handler=MotoRequestHandler)
    port = server.socket.getsockname()[1]
    os.environ["MOTO_PORT"] = str(port)

    stopping = threading.Event()

    def stop(*_):
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever() to return: never call it on its thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()

    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
