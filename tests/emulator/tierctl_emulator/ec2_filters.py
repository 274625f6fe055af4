"""EC2 filter value matching as AWS does it, not as moto 5.2.5 does.

AWS: in a filter value `*` matches any run of characters, `?` any one
character, and a backslash escapes `*`, `?` and `\\` (the value `\\*amazon\\?\\\\`
matches the literal `*amazon?\\`). Nothing else is special: `[abc]` is the
literal text `[abc]`.

moto translates values with `fnmatch`, so `[...]` is a character class and
`\\\\` matches two backslashes, and it also accepts a tag value that equals
the raw (unescaped) filter text. Both would let a test pass that fails on
AWS, so this module replaces moto's translation and tag matcher.
"""

import re

from moto.ec2 import utils as ec2_utils


def aws_filter_to_re(value):
    """The regular expression AWS's matching of `value` amounts to (whole value)."""
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return "(?s:" + "".join(out) + r")\Z"


def matches(text, value):
    """Whether `text` matches the filter value `value` (AWS semantics)."""
    return text is not None and re.match(aws_filter_to_re(value), text) is not None


def _tag_filter_matches(obj, filter_name, filter_values):
    if filter_name == "tag-key":
        have = ec2_utils.get_obj_tag_names(obj)
    elif filter_name == "tag-value":
        have = ec2_utils.get_obj_tag_values(obj)
    elif filter_name.startswith("tag:"):
        have = ec2_utils.get_obj_tag_values(obj, key=filter_name[4:])
    else:
        have = [ec2_utils.get_obj_tag(obj, filter_name) or ""]
    return any(matches(h, v) for h in have for v in filter_values)


ec2_utils.simple_aws_filter_to_re = aws_filter_to_re
ec2_utils.tag_filter_matches = _tag_filter_matches

# Modules that imported the functions by name.
from moto.ec2.models import security_groups as _security_groups  # noqa: E402
from moto.ec2.models import tags as _tags  # noqa: E402

_tags.simple_aws_filter_to_re = aws_filter_to_re
_security_groups.tag_filter_matches = _tag_filter_matches
