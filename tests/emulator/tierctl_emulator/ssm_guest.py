"""SSM Run Command against emulated guests (moto's SSM is not used for these actions).

Guest model: every instance may have a guest {os, files, agent, latencyMs}.
  agent online        -> registered, PingStatus Online, commands are interpreted
  agent fail          -> registered, Online, every invocation Failed (exit 1)
  agent hang          -> registered, Online, invocations stay InProgress until the
                         document's executionTimeout, then TimedOut/ExecutionTimedOut
  agent offline       -> registered, PingStatus ConnectionLost, SendCommand refused
  agent unregistered  -> absent from DescribeInstanceInformation, SendCommand refused
  agent garbled       -> registered, Online, every invocation succeeds with output
                         that is no answer line
Files: each entry of `files` is a path (the file exists) or
  {"path": ..., "state": STATE} with STATE one of
  present        the file exists
  unreadable     a parent directory may not be searched (EACCES / access denied)
  dangling       the name is a symbolic link to nothing (Windows: the link exists)
  loop           a symbolic link loop (ELOOP)
  io-error       the file system answers with an I/O error (EIO, unreachable share)
  not-a-directory a parent is a regular file (ENOTDIR)
A path not listed does not exist (ENOENT: the only "absent").

Command documents (CreateDocument, UpdateDocument, DescribeDocument,
GetDocument, UpdateDocumentDefaultVersion, DeleteDocument) are kept here, per
region, with versions. SendCommand with such a document enforces its
parameters as AWS does: only declared parameters, required ones present, and
each value matching its `allowedPattern` (InvalidParameters otherwise; moto
does not check). tierctl's override-check document (recognised by its marker
line and its quoted `{{ path }}`) is interpreted with the file model above,
step by step with the platformType precondition.

Invocation outcomes are decided at SendCommand time and revealed when due
(lazily, from tick() which runs at the start of every request).
"""

import base64
import datetime
import hashlib
import json
import re
import threading
import time
import uuid

from moto.core import DEFAULT_ACCOUNT_ID

from . import guest_shell
from .ec2_realism import backend as ec2_backend
from .protocol import error_for, json_response

ACTIONS = {"DescribeInstanceInformation", "SendCommand", "ListCommandInvocations",
           "GetCommandInvocation", "ListCommands", "CancelCommand",
           "CreateDocument", "UpdateDocument", "DescribeDocument", "GetDocument",
           "UpdateDocumentDefaultVersion", "DeleteDocument"}
AGENTS = {"online", "offline", "fail", "hang", "unregistered", "garbled"}
FILE_STATES = {"present", "unreadable", "dangling", "loop", "io-error", "not-a-directory"}
# What tierctl's override-check scripts print for each file state.
CHECK_MARKER = "# tierctl-override-check v2"
_LINUX_ANSWERS = {
    None: "absent",
    "present": "present",
    "unreadable": "unsure stat: cannot statx '{p}': Permission denied",
    "dangling": "unsure dangling symbolic link: {p}",
    "loop": "unsure stat: cannot statx '{p}': Too many levels of symbolic links",
    "io-error": "unsure stat: cannot statx '{p}': Input/output error",
    "not-a-directory": "unsure stat: cannot statx '{p}': Not a directory",
}
_WINDOWS_ANSWERS = {
    None: "absent",
    "present": "present",
    "unreadable": "unsure System.UnauthorizedAccessException: Access to the path '{p}' is denied.",
    "dangling": "present",  # GetAttributes reads the link itself
    "loop": "unsure System.IO.IOException: The name of the file cannot be resolved by the system.",
    "io-error": "unsure System.IO.IOException: The network path was not found.",
    "not-a-directory": "unsure System.IO.IOException: The directory name is invalid.",
}
DOCUMENTS = {"AWS-RunShellScript": ("linux", "aws:runShellScript"),
             "AWS-RunPowerShellScript": ("windows", "aws:runPowerShellScript")}
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}


class SsmError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def _validation(field, value, constraint):
    return SsmError("ValidationException",
                    f"1 validation error detected: Value '{value}' at '{field}' failed to "
                    f"satisfy constraint: {constraint}")


def _int_range(params, name, field, low, high, default):
    value = params.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or value < low:
        raise _validation(field, value, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _validation(field, value, f"Member must have value less than or equal to {high}")
    return value


def _page(items, params, low, high, default):
    """Slice `items` by MaxResults/NextToken; returns (page, next_token or None)."""
    max_results = _int_range(params, "MaxResults", "maxResults", low, high, default)
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.b64decode(token).decode().split(":")[1])
        except (ValueError, IndexError, UnicodeDecodeError):
            raise SsmError("InvalidNextToken", "The specified token is not valid.")
    end = start + max_results
    more = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], more


def _iso(epoch):
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Guest:
    def __init__(self, spec):
        self.os = spec.get("os", "linux")
        self.files = list(spec.get("files") or [])
        for f in self.files:
            if isinstance(f, dict):
                if not isinstance(f.get("path"), str) or f.get("state", "present") not in FILE_STATES:
                    raise ValueError(f"a file is a path or {{path, state}} with state in "
                                     f"{sorted(FILE_STATES)}, not {f!r}")
            elif not isinstance(f, str):
                raise ValueError(f"a file is a path or {{path, state}}, not {f!r}")
        self.agent = spec.get("agent", "online")
        self.latency_ms = int(spec.get("latencyMs", 100))
        if self.os not in ("linux", "windows"):
            raise ValueError(f"os must be linux or windows, not {self.os!r}")
        if self.agent not in AGENTS:
            raise ValueError(f"agent must be one of {sorted(AGENTS)}")

    def to_json(self):
        return {"os": self.os, "files": self.files, "agent": self.agent,
                "latencyMs": self.latency_ms}

    def present_paths(self):
        """Paths that exist (for the legacy AWS-Run*Script check)."""
        return [f if isinstance(f, str) else f["path"] for f in self.files
                if isinstance(f, str) or f.get("state", "present") in ("present",)]

    def file_state(self, path):
        """The state of `path`, None when it does not exist."""
        key = guest_shell.windows_key if self.os == "windows" else (lambda p: p)
        for f in self.files:
            fpath, state = (f, "present") if isinstance(f, str) else (f["path"], f.get("state", "present"))
            if key(fpath) == key(path):
                return state
        return None

    def override_answer(self, path):
        answers = _WINDOWS_ANSWERS if self.os == "windows" else _LINUX_ANSWERS
        line = "TIERCTL_OVERRIDE=" + answers[self.file_state(path)].format(p=path)
        return line + ("\r\n" if self.os == "windows" else "\n")


class Document:
    """A Command document with its versions (content strings)."""

    def __init__(self, name, content, doc_format):
        self.name = name
        self.versions = [content]
        self.format = doc_format
        self.default = 1
        self.created = time.time()

    @property
    def latest(self):
        return len(self.versions)

    def content(self, version=None):
        if version in (None, "", "$DEFAULT"):
            n = self.default
        elif version == "$LATEST":
            n = self.latest
        else:
            try:
                n = int(version)
            except ValueError:
                raise SsmError("InvalidDocumentVersion", f"Document version {version} is not valid.")
            if not 1 <= n <= self.latest:
                raise SsmError("InvalidDocumentVersion",
                               f"Document {self.name} does not have version {version}.")
        return n, self.versions[n - 1]

    def describe(self, version=None):
        n, content = self.content(version)
        doc = json.loads(content)
        params = [{"Name": k, "Type": v.get("type", "String"),
                   "Description": v.get("description", ""),
                   **({"DefaultValue": v["default"]} if "default" in v else {})}
                  for k, v in (doc.get("parameters") or {}).items()]
        platforms = sorted({"Windows" if st.get("action") == "aws:runPowerShellScript" else "Linux"
                            for st in doc.get("mainSteps") or []})
        return {
            "Name": self.name, "DocumentVersion": str(n), "DefaultVersion": str(self.default),
            "LatestVersion": str(self.latest), "Description": doc.get("description", ""),
            "Hash": hashlib.sha256(content.encode()).hexdigest(), "HashType": "Sha256",
            "Status": "Active", "DocumentType": "Command", "SchemaVersion": doc.get("schemaVersion"),
            "DocumentFormat": self.format, "Parameters": params, "PlatformTypes": platforms,
            "Owner": DEFAULT_ACCOUNT_ID, "CreatedDate": self.created, "TargetType": "",
        }


def _parse_document(content):
    """The content as data, refused like AWS refuses bad Command documents."""
    try:
        doc = json.loads(content)
    except (TypeError, ValueError) as err:
        raise SsmError("InvalidDocumentContent", f"JSON not well-formed: {err}")
    if not isinstance(doc, dict) or doc.get("schemaVersion") != "2.2":
        raise SsmError("InvalidDocumentSchemaVersion",
                       "The emulator only takes schemaVersion 2.2 Command documents.")
    steps = doc.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        raise SsmError("InvalidDocumentContent", "mainSteps must be a non-empty list")
    for name, param in (doc.get("parameters") or {}).items():
        pattern = param.get("allowedPattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as err:
                raise SsmError("InvalidDocumentContent",
                               f"Parameter {name}: allowedPattern is not a valid pattern: {err}")
    for st in steps:
        if st.get("action") not in ("aws:runShellScript", "aws:runPowerShellScript"):
            raise SsmError("InvalidDocumentContent",
                           f"the emulator does not run step action {st.get('action')!r}")
    return doc


class Invocation:
    def __init__(self, command, instance_id, os_name):
        self.command = command
        self.instance_id = instance_id
        self.os = os_name
        self.status, self.details = "InProgress", "InProgress"
        self.code, self.stdout, self.stderr = -1, "", ""
        self.due = None             # monotonic time when the final outcome shows
        self.final = None           # (status, details, code, stdout, stderr)
        self.started = None
        self.finished = None

    @property
    def plugin_dir(self):
        return "awsrunPowerShellScript" if self.os == "windows" else "awsrunShellScript"

    def s3_url(self, stream):
        cmd = self.command
        if not cmd.bucket:
            return ""
        return (f"https://s3.{cmd.region}.amazonaws.com/{cmd.bucket}/"
                f"{self.s3_key(stream)}")

    def s3_key(self, stream):
        prefix = self.command.prefix.strip("/")
        parts = [prefix] if prefix else []
        parts += [self.command.id, self.instance_id, self.plugin_dir,
                  f"0.{self.plugin_dir}", stream]
        return "/".join(parts)

    def refresh(self, now, s3_writer):
        if self.status in TERMINAL or self.due is None or now < self.due:
            return
        self.status, self.details, self.code, self.stdout, self.stderr = self.final
        self.finished = time.time()
        if self.status in ("Success", "Failed") and self.details != "InvalidPlatform":
            s3_writer(self)


class Command:
    def __init__(self, params, region, instance_ids):
        self.id = str(uuid.uuid4())
        self.params = params
        self.region = region
        self.document = params["DocumentName"]
        self.comment = params.get("Comment", "")
        self.bucket = params.get("OutputS3BucketName", "")
        self.prefix = params.get("OutputS3KeyPrefix", "")
        self.timeout = params.get("TimeoutSeconds", 3600)
        self.requested = time.time()
        self.instance_ids = instance_ids
        self.invocations = {}
        self.version = "$DEFAULT"

    @property
    def plugin_name(self):
        return DOCUMENTS.get(self.document, (None, "aws:runShellScript"))[1]

    def status(self):
        statuses = [inv.status for inv in self.invocations.values()]
        if not all(s in TERMINAL for s in statuses):
            return "InProgress"
        for s in ("Cancelled", "TimedOut", "Failed"):
            if s in statuses:
                return s
        return "Success"

    def to_json(self, status=None):
        invs = self.invocations.values()
        done = [i for i in invs if i.status in TERMINAL]
        status = status or self.status()
        return {
            "CommandId": self.id, "DocumentName": self.document, "DocumentVersion": "$DEFAULT",
            "Comment": self.comment, "ExpiresAfter": self.requested + self.timeout + 3600,
            "Parameters": self.params.get("Parameters", {}), "InstanceIds": self.instance_ids,
            "Targets": [], "RequestedDateTime": self.requested, "Status": status,
            "StatusDetails": status, "OutputS3Region": self.region,
            "OutputS3BucketName": self.bucket, "OutputS3KeyPrefix": self.prefix,
            "MaxConcurrency": self.params.get("MaxConcurrency", "50"),
            "MaxErrors": self.params.get("MaxErrors", "0"),
            "TargetCount": len(self.instance_ids), "CompletedCount": len(done),
            "ErrorCount": sum(1 for i in done if i.status != "Success"),
            "DeliveryTimedOutCount": sum(1 for i in done if i.details == "DeliveryTimedOut"),
            "ServiceRole": "", "TimeoutSeconds": self.timeout,
            "NotificationConfig": {"NotificationArn": "", "NotificationEvents": [],
                                   "NotificationType": ""},
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "",
                                       "CloudWatchOutputEnabled": False},
        }


class SsmGuests:
    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.guests = {}
            self.documents = {}      # (region, name) -> Document
            self.commands = {}       # insertion-ordered: oldest first
            self.active = set()      # invocations not yet terminal

    # ---------------------------------------------------------------- admin

    def put_guest(self, instance_id, spec):
        guest = Guest(spec)
        with self.lock:
            self.guests[instance_id] = guest
        return guest.to_json()

    def get_guest(self, instance_id):
        with self.lock:
            guest = self.guests.get(instance_id)
            return guest.to_json() if guest else None

    # ---------------------------------------------------------------- time

    def tick(self):
        now = time.monotonic()
        with self.lock:
            for inv in list(self.active):
                inv.refresh(now, self._write_s3)
                if inv.status in TERMINAL:
                    self.active.discard(inv)

    def _write_s3(self, inv):
        """Upload output like the agent does; a missing bucket just means no upload."""
        if not inv.command.bucket:
            return
        from moto.s3.models import s3_backends
        s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        streams = [("stdout", inv.stdout)] + ([("stderr", inv.stderr)] if inv.stderr else [])
        for stream, text in streams:
            try:
                s3.put_object(inv.command.bucket, inv.s3_key(stream), text.encode("utf-8"))
            except Exception:  # noqa: BLE001 - the agent only logs upload failures
                return

    # ---------------------------------------------------------------- API

    def handle(self, req):
        if req.action not in ACTIONS:
            return None
        params = req.params if isinstance(req.params, dict) else {}
        try:
            with self.lock:
                self.tick()
                payload = getattr(self, "_" + req.action)(params, req.region)
        except SsmError as err:
            return error_for(req, err.code, err.message)
        return json_response(req, payload)

    def _instances(self, region):
        return {inst.id: inst for res in ec2_backend(region).all_reservations()
                for inst in res.instances}

    def _DescribeInstanceInformation(self, params, region):
        if params.get("Filters") and params.get("InstanceInformationFilterList"):
            raise SsmError("InvalidFilter", "Filters and InstanceInformationFilterList "
                           "cannot be used together.")
        filters = {}
        for flt in params.get("Filters") or []:
            filters[flt.get("Key")] = flt.get("Values") or []
        for flt in params.get("InstanceInformationFilterList") or []:
            key = {"InstanceIds": "InstanceIds", "PingStatus": "PingStatus",
                   "PlatformTypes": "PlatformTypes"}.get(flt.get("key"), flt.get("key"))
            filters[key] = flt.get("valueSet") or []
        for key, values in filters.items():
            if key not in ("InstanceIds", "PingStatus", "PlatformTypes"):
                raise SsmError("InvalidFilterKey", f"The filter key {key} is not supported "
                               "by the emulator (supported: InstanceIds, PingStatus, "
                               "PlatformTypes).")
            if not 1 <= len(values) <= 100:
                raise _validation("filters.member.values", values,
                                  "Member must have length less than or equal to 100")
        instances = self._instances(region)
        items = []
        for instance_id in sorted(self.guests):
            guest = self.guests[instance_id]
            inst = instances.get(instance_id)
            if guest.agent == "unregistered" or inst is None or \
                    inst._state.name in ("stopped", "terminated"):
                continue
            item = {
                "InstanceId": instance_id,
                "PingStatus": "ConnectionLost" if guest.agent == "offline" else "Online",
                "LastPingDateTime": time.time(), "AgentVersion": "3.3.1142.0",
                "IsLatestVersion": True,
                "PlatformType": "Windows" if guest.os == "windows" else "Linux",
                "PlatformName": ("Microsoft Windows Server 2022 Datacenter"
                                 if guest.os == "windows" else "Amazon Linux"),
                "PlatformVersion": "10.0.20348" if guest.os == "windows" else "2023",
                "ResourceType": "EC2Instance", "IPAddress": inst.private_ip or "",
                "ComputerName": f"ip-{(inst.private_ip or '0.0.0.0').replace('.', '-')}",
            }
            if "InstanceIds" in filters and instance_id not in filters["InstanceIds"]:
                continue
            if "PingStatus" in filters and item["PingStatus"] not in filters["PingStatus"]:
                continue
            if "PlatformTypes" in filters and item["PlatformType"] not in filters["PlatformTypes"]:
                continue
            items.append(item)
        page, token = _page(items, params, 5, 50, 10)
        out = {"InstanceInformationList": page}
        if token:
            out["NextToken"] = token
        return out

    def _SendCommand(self, params, region):
        document = params.get("DocumentName")
        if not document:
            raise _validation("documentName", None, "Member must not be null")
        ids = list(dict.fromkeys(params.get("InstanceIds") or []))
        if params.get("Targets"):
            raise SsmError("ValidationException", "Targets are not supported by the "
                           "tierctl emulator; use InstanceIds.")
        if not ids:
            raise SsmError("ValidationException", "InstanceIds or Targets must be specified.")
        if len(ids) > 50:
            raise _validation("instanceIds", ids, "Member must have length less than or equal to 50")
        _int_range(params, "TimeoutSeconds", "timeoutSeconds", 30, 2592000, 3600)
        if len(params.get("Comment", "")) > 100:
            raise _validation("comment", params["Comment"],
                              "Member must have length less than or equal to 100")
        bucket = params.get("OutputS3BucketName")
        if bucket is not None and not 3 <= len(bucket) <= 63:
            raise _validation("outputS3BucketName", bucket,
                              "Member must have length between 3 and 63")
        if len(params.get("OutputS3KeyPrefix", "")) > 500:
            raise _validation("outputS3KeyPrefix", params["OutputS3KeyPrefix"],
                              "Member must have length less than or equal to 500")
        instances = self._instances(region)
        bad = [i for i in ids if i not in self.guests or i not in instances
               or self.guests[i].agent in ("offline", "unregistered")
               or instances[i]._state.name in ("shutting-down", "terminated")]
        if bad:
            raise SsmError("InvalidInstanceId", f"Instances [[{', '.join(bad)}]] not in a "
                           f"valid state for account {DEFAULT_ACCOUNT_ID}")
        own = None
        if document not in DOCUMENTS:
            own = self._own_document(params, region)
        command = Command(params, region, ids)
        doc_parameters = params.get("Parameters") or {}
        commands = doc_parameters.get("commands") or []
        try:
            if own is not None:
                exec_timeout = float(own[0]["mainSteps"][0]["inputs"].get("timeoutSeconds", 3600))
            else:
                exec_timeout = float((doc_parameters.get("executionTimeout") or ["3600"])[0])
        except (TypeError, ValueError, KeyError, IndexError):
            exec_timeout = 3600.0
        now = time.monotonic()
        for instance_id in ids:
            guest, inst = self.guests[instance_id], instances[instance_id]
            inv = Invocation(command, instance_id, guest.os)
            inv.started = time.time()
            latency = guest.latency_ms / 1000.0
            doc_os = DOCUMENTS.get(document, (None,))[0]
            if inst._state.name in ("stopped", "stopping"):
                # Registered but not running: never delivered, then delivery timeout.
                inv.status, inv.details = "Pending", "Pending"
                inv.due = now + command.timeout
                inv.final = ("TimedOut", "DeliveryTimedOut", -1, "", "")
            elif doc_os is not None and doc_os != guest.os:
                inv.status, inv.details = "Failed", "InvalidPlatform"
                inv.finished = time.time()
            elif guest.agent == "hang":
                inv.due = now + exec_timeout
                inv.final = ("TimedOut", "ExecutionTimedOut", -1, "", "")
            elif guest.agent == "fail":
                inv.due = now + latency
                inv.final = ("Failed", "Failed", 1, "",
                             "failed to run commands: exit status 1\n")
            elif guest.agent == "garbled":
                inv.due = now + latency
                inv.final = ("Success", "Success", 0, "Stop\nmaybe\n", "")
            elif own is not None:
                inv.due = now + latency
                inv.final = self._own_run(own[0], own[1], guest)
            else:
                code, out, err = guest_shell.run_commands(guest.os, commands, guest.present_paths())
                inv.due = now + latency
                inv.final = ("Success" if code == 0 else "Failed",
                             "Success" if code == 0 else "Failed", code, out, err)
            command.invocations[instance_id] = inv
            if inv.status not in TERMINAL:
                self.active.add(inv)
        self.commands[command.id] = command
        self.tick()  # latency 0 finishes at once
        return {"Command": command.to_json(status="Pending")}

    # ---------------------------------------------------------------- documents

    def _doc(self, region, name):
        doc = self.documents.get((region, name))
        if doc is None:
            raise SsmError("InvalidDocument", f"Document with name {name} does not exist.")
        return doc

    def _CreateDocument(self, params, region):
        name, content = params.get("Name"), params.get("Content")
        if not name or not re.fullmatch(r"[a-zA-Z0-9_\-.]{3,128}", name):
            raise _validation("name", name, "Member must satisfy regular expression pattern: "
                              "^[a-zA-Z0-9_\\-.]{3,128}$")
        if name.lower().startswith(("aws", "amazon", "amzn")):
            raise SsmError("ValidationException", f"Document name {name} uses a reserved prefix.")
        if params.get("DocumentType", "Command") != "Command":
            raise SsmError("InvalidDocumentContent", "the emulator only keeps Command documents")
        if (region, name) in self.documents:
            raise SsmError("DocumentAlreadyExists", "The specified document already exists.")
        _parse_document(content)
        doc = Document(name, content, params.get("DocumentFormat", "JSON"))
        self.documents[(region, name)] = doc
        return {"DocumentDescription": doc.describe()}

    def _UpdateDocument(self, params, region):
        doc = self._doc(region, params.get("Name"))
        version = params.get("DocumentVersion")
        if version not in (None, "$LATEST", str(doc.latest)):
            raise SsmError("InvalidDocumentVersion",
                           "The document version is not valid or does not exist.")
        content = params.get("Content")
        _parse_document(content)
        if content == doc.versions[-1]:
            raise SsmError("DuplicateDocumentContent",
                           "The content of the association document matches another document. "
                           "Change the content of the document and try again.")
        doc.versions.append(content)
        return {"DocumentDescription": doc.describe("$LATEST")}

    def _DescribeDocument(self, params, region):
        doc = self._doc(region, params.get("Name"))
        return {"Document": doc.describe(params.get("DocumentVersion"))}

    def _GetDocument(self, params, region):
        doc = self._doc(region, params.get("Name"))
        n, content = doc.content(params.get("DocumentVersion"))
        return {"Name": doc.name, "DocumentVersion": str(n), "Status": "Active",
                "Content": content, "DocumentType": "Command", "DocumentFormat": doc.format,
                "CreatedDate": doc.created}

    def _UpdateDocumentDefaultVersion(self, params, region):
        doc = self._doc(region, params.get("Name"))
        n, _ = doc.content(params.get("DocumentVersion"))
        doc.default = n
        return {"Description": {"Name": doc.name, "DefaultVersion": str(n),
                                "DefaultVersionName": ""}}

    def _DeleteDocument(self, params, region):
        self._doc(region, params.get("Name"))
        del self.documents[(region, params.get("Name"))]
        return {}

    def _own_document(self, params, region):
        """(parsed content, parameter values) of a kept document; refuses bad parameters."""
        doc = self._doc(region, params["DocumentName"])
        _, content = doc.content(params.get("DocumentVersion"))
        parsed = json.loads(content)
        declared = parsed.get("parameters") or {}
        given = params.get("Parameters") or {}
        for key in given:
            if key not in declared:
                raise SsmError("InvalidParameters",
                               f"Parameter \"{key}\" is not defined in the document "
                               f"{doc.name}.")
        values = {}
        for key, spec in declared.items():
            if key in given:
                value = given[key]
                if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
                    raise SsmError("InvalidParameters",
                                   f"Parameter \"{key}\" must be one String value.")
                value = value[0]
            elif "default" in spec:
                value = spec["default"]
            else:
                raise SsmError("InvalidParameters",
                               f"Parameter \"{key}\" is required but was not provided.")
            pattern = spec.get("allowedPattern")
            if pattern is not None and not re.search(pattern, value):
                raise SsmError("InvalidParameters",
                               f"Parameter \"{key}\" \"{value}\" failed to satisfy "
                               f"constraint: allowedPattern {pattern}")
            values[key] = value
        return parsed, values

    @staticmethod
    def _own_run(parsed, values, guest):
        """(status, details, code, stdout, stderr) of a kept document on `guest`."""
        platform = "Windows" if guest.os == "windows" else "Linux"
        steps = [st for st in parsed.get("mainSteps") or []
                 if (st.get("precondition") or {}).get("StringEquals", [None, platform])[1]
                 == platform]
        if not steps:
            return ("Success", "Success", 0,
                    "Step execution skipped due to unsatisfied preconditions: all steps.\n", "")
        step = steps[0]
        lines = (step.get("inputs") or {}).get("runCommand") or []
        text = "\n".join(lines)
        if CHECK_MARKER in lines and "'{{ path }}'" in text and "path" in values:
            return ("Success", "Success", 0, guest.override_answer(values["path"]), "")
        return ("Failed", "Failed", 1, "",
                f"tierctl emulator: step {step.get('name')} of this document is not emulated "
                "(only tierctl's override check)\n")

    def _command(self, command_id):
        command = self.commands.get(command_id)
        if command is None:
            raise SsmError("InvalidCommandId", "")
        return command

    def _invocation_json(self, inv, details):
        cmd = inv.command
        item = {
            "CommandId": cmd.id, "InstanceId": inv.instance_id, "InstanceName": "",
            "Comment": cmd.comment, "DocumentName": cmd.document, "DocumentVersion": "$DEFAULT",
            "RequestedDateTime": cmd.requested, "Status": inv.status,
            "StatusDetails": inv.details, "TraceOutput": "",
            "StandardOutputUrl": inv.s3_url("stdout"), "StandardErrorUrl": inv.s3_url("stderr"),
            "CommandPlugins": [], "ServiceRole": "",
            "NotificationConfig": {"NotificationArn": "", "NotificationEvents": [],
                                   "NotificationType": ""},
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "",
                                       "CloudWatchOutputEnabled": False},
        }
        if details:
            output = inv.stdout
            if inv.stderr:
                output += "\n----------ERROR-------\n" + inv.stderr
            plugin = {
                "Name": cmd.plugin_name, "Status": inv.status, "StatusDetails": inv.details,
                "ResponseCode": inv.code, "Output": output[:2500],
                "StandardOutputUrl": inv.s3_url("stdout"),
                "StandardErrorUrl": inv.s3_url("stderr"),
                "OutputS3Region": cmd.region, "OutputS3BucketName": cmd.bucket,
                "OutputS3KeyPrefix": cmd.prefix,
            }
            if inv.started:
                plugin["ResponseStartDateTime"] = inv.started
            if inv.finished:
                plugin["ResponseFinishDateTime"] = inv.finished
            item["CommandPlugins"] = [plugin]
        return item

    def _ListCommandInvocations(self, params, region):
        command_id, instance_id = params.get("CommandId"), params.get("InstanceId")
        commands = ([self.commands[command_id]] if command_id in self.commands else []) \
            if command_id else list(reversed(self.commands.values()))
        invs = [inv for cmd in commands for inv in cmd.invocations.values()
                if instance_id is None or inv.instance_id == instance_id]
        page, token = _page(invs, params, 1, 50, 50)
        out = {"CommandInvocations": [self._invocation_json(i, params.get("Details")) for i in page]}
        if token:
            out["NextToken"] = token
        return out

    def _GetCommandInvocation(self, params, region):
        command = self.commands.get(params.get("CommandId"))
        inv = command and command.invocations.get(params.get("InstanceId"))
        if inv is None:
            raise SsmError("InvocationDoesNotExist", "")
        plugin = params.get("PluginName")
        if plugin and plugin != command.plugin_name:
            raise SsmError("InvalidPluginName", "")
        elapsed = (inv.finished - inv.started) if inv.finished and inv.started else 0
        return {
            "CommandId": command.id, "InstanceId": inv.instance_id, "Comment": command.comment,
            "DocumentName": command.document, "DocumentVersion": "$DEFAULT",
            "PluginName": command.plugin_name, "ResponseCode": inv.code,
            "ExecutionStartDateTime": _iso(inv.started),
            "ExecutionElapsedTime": f"PT{elapsed:.3f}S",
            "ExecutionEndDateTime": _iso(inv.finished),
            "Status": inv.status, "StatusDetails": inv.details,
            "StandardOutputContent": inv.stdout[:24000],
            "StandardOutputUrl": inv.s3_url("stdout"),
            "StandardErrorContent": inv.stderr[:8000],
            "StandardErrorUrl": inv.s3_url("stderr"),
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "",
                                       "CloudWatchOutputEnabled": False},
        }

    def _ListCommands(self, params, region):
        if params.get("CommandId"):
            commands = [self._command(params["CommandId"])]
        else:
            commands = list(reversed(self.commands.values()))
        if params.get("InstanceId"):
            commands = [c for c in commands if params["InstanceId"] in c.invocations]
        page, token = _page(commands, params, 1, 50, 50)
        out = {"Commands": [c.to_json() for c in page]}
        if token:
            out["NextToken"] = token
        return out

    def _CancelCommand(self, params, region):
        command = self._command(params.get("CommandId"))
        targets = params.get("InstanceIds") or list(command.invocations)
        for instance_id in targets:
            inv = command.invocations.get(instance_id)
            if inv and inv.status not in TERMINAL:
                inv.status, inv.details = "Cancelled", "Cancelled"
                inv.finished = time.time()
                self.active.discard(inv)
        return {}
