"""Request identification and error/success rendering per AWS wire protocol.

The emulator must tell *which* service and action a request is before moto sees it
(for the call log, fault injection and the handlers we implement ourselves), and it
must answer errors in the exact shape each SDK parses:

  ec2Query  (EC2)                 <Response><Errors><Error>..</Error></Errors><RequestID/>
  awsQuery  (SNS, ELB, ELBv2, STS) <ErrorResponse><Error><Type/><Code/><Message/></Error>
  awsJson   (DynamoDB 1.0, SSM 1.1) {"__type": "...#Code", "message": ".."}
  restXml   (S3)                  <Error><Code/><Message/></Error>
  restJson1 (EventBridge Scheduler) {"Message": ".."} with X-Amzn-ErrorType: Code
"""

import json
import re
import uuid
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_ATTEMPT = re.compile(r"attempt=(\d+)")

# Services that speak each protocol (service names as reported in the call log).
_EC2_QUERY = {"ec2"}
_AWS_JSON = {"dynamodb": "1.0", "ssm": "1.1"}
_REST_XML = {"s3"}
_REST_JSON = {"lambda", "scheduler"}

_QUERY_NAMESPACES = {
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "elb": "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/",
    "elbv2": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
}
_JSON_TYPE_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#"}

EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def new_request_id():
    return str(uuid.uuid4())


class AwsRequest:
    """What we know about one incoming AWS API request."""

    def __init__(self, service, region, action, attempt, params, instance_ids, protocol):
        self.service = service
        self.region = region
        self.action = action
        self.attempt = attempt
        self.params = params
        self.instance_ids = instance_ids
        self.protocol = protocol

    def param(self, name, default=None):
        return self.params.get(name, default) if isinstance(self.params, dict) else default


def _form_params(text):
    """Flatten a form body into {field: value} (a list when a field repeats)."""
    out = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        out[key] = values[0] if len(values) == 1 else values
    return out


def _dedupe(items):
    seen, out = set(), []
    for item in items:
        if isinstance(item, str) and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _instance_ids_from_form(params):
    ids = []
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        last = key.split(".")
        # EC2: InstanceId / InstanceId.N ; ELB: Instances.member.N.InstanceId ;
        # ELBv2: Targets.member.N.Id (only when it looks like an instance id).
        if "InstanceId" in last or (last[-1] == "Id" and any(v.startswith("i-") for v in values)):
            ids.extend(v for v in values if v.startswith("i-") or "InstanceId" in last)
    return _dedupe(ids)


def _instance_ids_from_json(params):
    if not isinstance(params, dict):
        return []
    ids = []
    if isinstance(params.get("InstanceIds"), list):
        ids.extend(params["InstanceIds"])
    if isinstance(params.get("InstanceId"), str):
        ids.append(params["InstanceId"])
    for flt in params.get("Filters") or []:
        if isinstance(flt, dict) and flt.get("Key") == "InstanceIds":
            ids.extend(flt.get("Values") or [])
    for target in params.get("Targets") or []:
        if isinstance(target, dict) and target.get("Key") == "InstanceIds":
            ids.extend(target.get("Values") or [])
    return _dedupe(ids)


def _s3_action(method, path, query):
    parts = [p for p in path.split("/") if p]
    has_key = len(parts) >= 2
    if method == "GET" and "location" in query:
        return "GetBucketLocation"
    if method == "PUT" and has_key:
        return "PutObject"
    if method == "GET" and has_key:
        return "GetObject"
    if method == "HEAD" and has_key:
        return "HeadObject"
    if method == "GET" and query.get("list-type") == ["2"]:
        return "ListObjectsV2"
    if method == "GET" and len(parts) == 1 and not query:
        return "ListObjects"
    if method == "PUT" and len(parts) == 1 and not query:
        return "CreateBucket"
    if method == "HEAD" and len(parts) == 1:
        return "HeadBucket"
    if method == "DELETE" and has_key:
        return "DeleteObject"
    if method == "GET" and not parts:
        return "ListBuckets"
    return f"S3:{method}"


def _scheduler_request(method, path, query, text):
    """Action and parameters of an EventBridge Scheduler (restJson1) request."""
    parts = [unquote(p) for p in path.split("/") if p]
    try:
        params = json.loads(text) if text.strip() else {}
    except ValueError:
        params = {"_raw": text[:2000]}
    if not isinstance(params, dict):
        params = {"_body": params}
    for key, values in query.items():
        params.setdefault(key[:1].upper() + key[1:], values[0])
    kind = parts[0] if parts else ""
    if len(parts) >= 2 and kind in ("schedules", "schedule-groups"):
        params.setdefault("Name", "/".join(parts[1:]))
    actions = {
        ("schedules", True): {"POST": "CreateSchedule", "GET": "GetSchedule",
                              "PUT": "UpdateSchedule", "DELETE": "DeleteSchedule"},
        ("schedules", False): {"GET": "ListSchedules"},
        ("schedule-groups", True): {"POST": "CreateScheduleGroup", "GET": "GetScheduleGroup",
                                    "DELETE": "DeleteScheduleGroup"},
        ("schedule-groups", False): {"GET": "ListScheduleGroups"},
        ("tags", True): {"GET": "ListTagsForResource", "POST": "TagResource",
                         "DELETE": "UntagResource"},
    }
    action = actions.get((kind, len(parts) >= 2), {}).get(method, f"scheduler:{method}")
    return action, params


def parse_request(environ, body):
    """Identify service/region/action/attempt and the key parameters of a request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query_string = environ.get("QUERY_STRING", "")
    match = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
        query_string.replace("%2F", "/").replace("%2f", "/")
    )
    region, service = (match.group(1), match.group(2).lower()) if match else (None, None)
    attempt_match = _ATTEMPT.search(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
    attempt = int(attempt_match.group(1)) if attempt_match else None
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "")
    method = environ.get("REQUEST_METHOD", "GET")
    text = body.decode("utf-8", "replace") if body else ""

    if target:
        action = target.split(".", 1)[-1]
        try:
            params = json.loads(text) if text.strip() else {}
        except ValueError:
            params = {"_raw": text[:2000]}
        if service is None:
            service = "dynamodb" if target.startswith("DynamoDB") else target.split(".")[0].lower()
        if service == "amazonssm":
            service = "ssm"
        ids = _instance_ids_from_json(params)
        protocol = "json"
    elif content_type.startswith("application/x-www-form-urlencoded") or (
        "Action=" in query_string and service != "s3"
    ):
        params = _form_params(text if text else query_string)
        action = params.get("Action")
        if service == "elasticloadbalancing":
            service = "elbv2" if params.get("Version") == "2015-12-01" else "elb"
        ids = _instance_ids_from_form(params)
        protocol = "ec2" if service in _EC2_QUERY else "query"
    elif service in _REST_JSON:
        query = parse_qs(query_string, keep_blank_values=True)
        action, params = _scheduler_request(method, environ.get("PATH_INFO", ""), query, text)
        ids = []
        protocol = "rest-json"
    else:
        query = parse_qs(query_string, keep_blank_values=True)
        path = environ.get("PATH_INFO", "")
        service = service or "s3"
        action = _s3_action(method, path, query) if service == "s3" else f"{service}:{method}"
        params = {"method": method, "path": path, "query": {k: v[0] for k, v in query.items()}}
        ids = []
        protocol = "rest-xml"
    return AwsRequest(service, region, action, attempt, params, ids, protocol)


# ---------------------------------------------------------------- rendering

def _xml_response(status, body, request_id):
    headers = [
        ("Content-Type", "text/xml;charset=UTF-8"),
        ("x-amzn-RequestId", request_id),
    ]
    return status, headers, body.encode("utf-8")


def json_response(req_or_service, payload, status=200):
    service = getattr(req_or_service, "service", req_or_service)
    version = _AWS_JSON.get(service, "1.1")
    headers = [
        ("Content-Type", f"application/x-amz-json-{version}"),
        ("x-amzn-RequestId", new_request_id()),
    ]
    return status, headers, json.dumps(payload, default=str).encode("utf-8")


def ec2_response(action, inner_xml):
    """A successful ec2Query response for `action` whose body is inner_xml."""
    request_id = new_request_id()
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{action}Response xmlns="{EC2_XMLNS}"><requestId>{request_id}</requestId>'
        f"{inner_xml}</{action}Response>"
    )
    return _xml_response(200, body, request_id)


def error_response(service, protocol, code, message, status=400):
    """Render an AWS error the way `service` does. Returns (status, headers, body bytes)."""
    request_id = new_request_id()
    code_x, msg_x = escape(code), escape(message or "")
    if protocol == "ec2" or service in _EC2_QUERY:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code_x}</Code><Message>{msg_x}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return _xml_response(status, body, request_id)
    if protocol == "json" or service in _AWS_JSON:
        version = _AWS_JSON.get(service, "1.1")
        payload = {"__type": _JSON_TYPE_PREFIX.get(service, "") + code, "message": message or ""}
        headers = [
            ("Content-Type", f"application/x-amz-json-{version}"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        return status, headers, json.dumps(payload).encode("utf-8")
    if protocol == "rest-json" or service in _REST_JSON:
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        if service == "lambda":
            return status, headers, json.dumps({"Type": "User" if status < 500 else "Service",
                                                "message": message or ""}).encode("utf-8")
        return status, headers, json.dumps({"Message": message or ""}).encode("utf-8")
    if protocol == "rest-xml" or service in _REST_XML:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code_x}</Code><Message>{msg_x}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return _xml_response(status, body, request_id)
    kind = "Receiver" if status >= 500 else "Sender"
    xmlns = _QUERY_NAMESPACES.get(service, "")
    ns_attr = f' xmlns="{xmlns}"' if xmlns else ""
    body = (
        f"<ErrorResponse{ns_attr}><Error><Type>{kind}</Type><Code>{code_x}</Code>"
        f"<Message>{msg_x}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return _xml_response(status, body, request_id)


def error_for(req, code, message, status=400):
    return error_response(req.service, req.protocol, code, message, status)


_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")


def error_code_from_response(status, headers, body):
    """Best-effort extraction of the AWS error code from a (moto) error response."""
    if status < 400:
        return None
    for name, value in headers:
        if name.lower() == "x-amzn-errortype" and value:
            return value.split(":")[0]
    match = _XML_CODE.search(body or b"")
    if match:
        return match.group(1).decode("utf-8", "replace")
    try:
        kind = json.loads(body).get("__type", "")
        return kind.split("#")[-1] or f"HTTP{status}"
    except (ValueError, AttributeError):
        return f"HTTP{status}"
