"""EventBridge Scheduler refusals AWS makes and moto 5.2.5 does not.

moto's scheduler backend (served by the emulator through moto's server app,
restJson1 protocol) stores whatever it is sent. Checked here, before moto:

- names of schedules and groups: 1-64 characters of [0-9a-zA-Z-_.]
  (ValidationException);
- CreateSchedule / UpdateSchedule: FlexibleTimeWindow is required, Mode OFF
  (no MaximumWindowInMinutes) or FLEXIBLE (with 1-1440 minutes);
  ScheduleExpression is required and one of at(yyyy-mm-ddThh:mm:ss),
  rate(N unit) or cron(...) with exactly six fields, one of day-of-month /
  day-of-week being `?`; ScheduleExpressionTimezone must be an IANA zone;
  State ENABLED or DISABLED; Description at most 512 characters;
  Target with an ARN and a role ARN (iam role) and RetryPolicy within
  60-86400 s and 0-185 attempts, DeadLetterConfig.Arn an SQS queue ARN;
- CreateSchedule in a group that does not exist: ResourceNotFoundException
  (moto: an internal error);
- CreateSchedule of a name the group has: ConflictException, HTTP 409 (moto: 400);
- UpdateSchedule of a schedule that does not exist: ResourceNotFoundException;
- CreateScheduleGroup of an existing group: ConflictException (moto replaces
  the group, schedules and all).
"""

import re
from zoneinfo import ZoneInfo

from moto.core import DEFAULT_ACCOUNT_ID

from .protocol import error_for

_NAME = re.compile(r"^[0-9a-zA-Z\-_.]{1,64}$")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
_SQS = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:.+$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_RATE = re.compile(r"^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")


def _backend(region):
    from moto.scheduler.models import scheduler_backends
    return scheduler_backends[DEFAULT_ACCOUNT_ID][region or "us-east-1"]


def _valid_zone(name):
    if not isinstance(name, str) or not name or ".." in name or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not a zone"
        return False


def expression_problem(expr):
    """Why AWS refuses a schedule expression, or None."""
    if not isinstance(expr, str) or not expr:
        return "ScheduleExpression is required"
    if _AT.match(expr) or _RATE.match(expr):
        return None
    if not (expr.startswith("cron(") and expr.endswith(")")):
        return f"Invalid Schedule Expression {expr}."
    fields = expr[5:-1].split()
    if len(fields) != 6:
        return f"Invalid Schedule Expression {expr}: cron needs six fields."
    if fields[2] != "?" and fields[4] != "?":
        return (f"Invalid Schedule Expression {expr}: one of day-of-month and day-of-week "
                "must be '?'.")
    if fields[2] == "?" and fields[4] == "?":
        return f"Invalid Schedule Expression {expr}: only one of day-of-month and day-of-week may be '?'."
    allowed = re.compile(r"^[0-9A-Za-z*?,/\-#LW]+$")
    if not all(allowed.match(f) for f in fields):
        return f"Invalid Schedule Expression {expr}."
    return None


def _schedule_problem(params):
    name = params.get("Name")
    if not isinstance(name, str) or not _NAME.match(name):
        return f"Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+ and length 1-64"
    group = params.get("GroupName")
    if group is not None and not _NAME.match(str(group)):
        return f"Value '{group}' at 'groupName' failed to satisfy constraint"
    window = params.get("FlexibleTimeWindow")
    if not isinstance(window, dict):
        return "FlexibleTimeWindow is required"
    mode = window.get("Mode")
    minutes = window.get("MaximumWindowInMinutes")
    if mode == "OFF":
        if minutes is not None:
            return "MaximumWindowInMinutes must not be set when FlexibleTimeWindow Mode is OFF"
    elif mode == "FLEXIBLE":
        if not isinstance(minutes, int) or not 1 <= minutes <= 1440:
            return "MaximumWindowInMinutes must be between 1 and 1440 when Mode is FLEXIBLE"
    else:
        return f"Invalid FlexibleTimeWindow Mode {mode!r}"
    problem = expression_problem(params.get("ScheduleExpression"))
    if problem:
        return problem
    zone = params.get("ScheduleExpressionTimezone")
    if zone is not None and not _valid_zone(zone):
        return f"Invalid ScheduleExpressionTimezone {zone}"
    state = params.get("State")
    if state is not None and state not in ("ENABLED", "DISABLED"):
        return f"Invalid State {state}"
    description = params.get("Description")
    if description is not None and len(description) > 512:
        return "Description must be at most 512 characters"
    target = params.get("Target")
    if not isinstance(target, dict):
        return "Target is required"
    if not _ARN.match(str(target.get("Arn", ""))):
        return f"Invalid target ARN {target.get('Arn')!r}"
    if not _ROLE.match(str(target.get("RoleArn", ""))):
        return f"Invalid RoleArn {target.get('RoleArn')!r}"
    retry = target.get("RetryPolicy")
    if retry is not None:
        age = retry.get("MaximumEventAgeInSeconds")
        attempts = retry.get("MaximumRetryAttempts")
        if age is not None and not 60 <= age <= 86400:
            return "MaximumEventAgeInSeconds must be between 60 and 86400"
        if attempts is not None and not 0 <= attempts <= 185:
            return "MaximumRetryAttempts must be between 0 and 185"
    dlq = target.get("DeadLetterConfig")
    if dlq is not None and not _SQS.match(str(dlq.get("Arn", ""))):
        return f"Invalid DeadLetterConfig ARN {dlq.get('Arn')!r}: an SQS queue ARN is required"
    text = target.get("Input")
    if text is not None and not 1 <= len(text) <= 8192:
        return "Target Input must be 1-8192 characters"
    return None


def handle(req):
    """An AWS refusal for `req`, or None to let moto answer."""
    action = req.action
    params = req.params if isinstance(req.params, dict) else {}
    if action in ("GetSchedule", "DeleteSchedule"):
        name = params.get("Name")
        if not isinstance(name, str) or not _NAME.match(name):
            return error_for(req, "ValidationException", f"Invalid schedule name {name!r}")
        group = params.get("GroupName") or "default"
        if group not in _backend(req.region).schedule_groups:
            return error_for(req, "ResourceNotFoundException",
                             f"Schedule group {group} does not exist.", 404)
        return None
    if action in ("CreateSchedule", "UpdateSchedule"):
        problem = _schedule_problem(params)
        if problem:
            return error_for(req, "ValidationException", problem)
        group = params.get("GroupName") or "default"
        backend = _backend(req.region)
        if group not in backend.schedule_groups:
            return error_for(req, "ResourceNotFoundException",
                             f"Schedule group {group} does not exist.", 404)
        exists = params["Name"] in backend.schedule_groups[group].schedules
        if action == "CreateSchedule" and exists:
            return error_for(req, "ConflictException",
                             f"Schedule {params['Name']} already exists.", 409)
        if action == "UpdateSchedule" and not exists:
            return error_for(req, "ResourceNotFoundException",
                             f"Schedule {params['Name']} does not exist.", 404)
        return None
    if action in ("CreateScheduleGroup", "GetScheduleGroup", "DeleteScheduleGroup"):
        name = params.get("Name")
        if not isinstance(name, str) or not _NAME.match(name):
            return error_for(req, "ValidationException", f"Invalid schedule group name {name!r}")
        groups = _backend(req.region).schedule_groups
        if action == "CreateScheduleGroup" and name in groups:
            return error_for(req, "ConflictException",
                             f"Schedule group {name} already exists.", 409)
        if action != "CreateScheduleGroup" and name not in groups:
            return error_for(req, "ResourceNotFoundException",
                             f"Schedule group {name} does not exist.", 404)
        return None
    return None
