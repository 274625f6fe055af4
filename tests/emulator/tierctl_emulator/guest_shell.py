"""A deliberately tiny "shell" that runs inside emulated guests.

It understands only the override-file check tierctl sends and `echo`. Anything
else is reported as a failed command (never a silent success), so a change in
the command text tierctl generates shows up as a test failure, not a false pass.

Each function returns (exit_code, stdout, stderr).
"""

import re

# bash: if [ -e 'PATH' ]; then echo TIERCTL_OVERRIDE=present; else echo TIERCTL_OVERRIDE=absent; fi
_LINUX_CHECK = re.compile(
    r"^if \[ -e (?P<tok>.+) \]; then echo TIERCTL_OVERRIDE=present; "
    r"else echo TIERCTL_OVERRIDE=absent; fi$", re.S)
# A POSIX-quoted word made only of '...' segments and \' escapes.
_POSIX_TOKEN = re.compile(r"^(?:'[^']*'|\\')+$", re.S)
_POSIX_PART = re.compile(r"'([^']*)'|\\(')", re.S)

# PowerShell: if (Test-Path -LiteralPath 'PATH') { 'TIERCTL_OVERRIDE=present' } else { 'TIERCTL_OVERRIDE=absent' }
_WIN_CHECK = re.compile(
    r"^if \(Test-Path -LiteralPath (?P<tok>.+)\) \{ 'TIERCTL_OVERRIDE=present' \} "
    r"else \{ 'TIERCTL_OVERRIDE=absent' \}$", re.S)
# PowerShell treats ' and the typographic quotes ‘ ’ ‚ ‛ alike inside single-quoted strings.
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"
_PS_TOKEN = re.compile(rf"^[{_PS_QUOTES}](?:[^{_PS_QUOTES}]|[{_PS_QUOTES}]{{2}})*[{_PS_QUOTES}]$", re.S)

# `echo` with plain words only: no quotes, variables, globbing or separators.
_ECHO = re.compile(r"^echo(?:[ \t]+(?P<words>[A-Za-z0-9_=.,:/@%+-]+(?:[ \t]+[A-Za-z0-9_=.,:/@%+-]+)*))?[ \t]*$")


def unquote_posix(token):
    """'a'\\''b' -> a'b ; None when the token is not exactly a quoted word."""
    if not _POSIX_TOKEN.match(token):
        return None
    return "".join(m.group(1) if m.group(1) is not None else m.group(2)
                   for m in _POSIX_PART.finditer(token))


def unquote_powershell(token):
    """'a''b' -> a'b ; None when the token is not exactly one single-quoted string."""
    if not _PS_TOKEN.match(token):
        return None
    inner, out, i = token[1:-1], [], 0
    while i < len(inner):
        if inner[i] in _PS_QUOTES:   # a doubled quote stands for one (the second) quote
            out.append(inner[i + 1])
            i += 2
        else:
            out.append(inner[i])
            i += 1
    return "".join(out)


def windows_key(path):
    """NTFS paths compare case-insensitively and accept / for \\."""
    return path.replace("/", "\\").casefold()


def _linux_line(line, files):
    check = _LINUX_CHECK.match(line)
    if check:
        path = unquote_posix(check.group("tok"))
        if path is not None:
            found = path in files
            return 0, f"TIERCTL_OVERRIDE={'present' if found else 'absent'}\n", ""
    echo = _ECHO.match(line)
    if echo:
        return 0, " ".join((echo.group("words") or "").split()) + "\n", ""
    word = line.split()[0] if line.split() else line
    if word not in ("if", "echo"):
        return 127, "", f"/var/lib/amazon/ssm/_script.sh: line 1: {word}: command not found\n"
    return 1, "", f"tierctl-emulator guest shell: command not understood: {line}\n"


def _windows_line(line, files):
    check = _WIN_CHECK.match(line)
    if check:
        path = unquote_powershell(check.group("tok"))
        if path is not None:
            found = windows_key(path) in {windows_key(f) for f in files}
            # PowerShell's default output ends lines with CRLF.
            return 0, f"TIERCTL_OVERRIDE={'present' if found else 'absent'}\r\n", ""
    echo = _ECHO.match(line)
    if echo:
        # echo is Write-Output in PowerShell: one output line per argument.
        return 0, "".join(w + "\r\n" for w in (echo.group("words") or "").split()), ""
    return 1, "", (f"tierctl-emulator guest shell: command not understood: {line}\n"
                   "    + CategoryInfo          : ParserError: (:) [], ParseException\n")


def run_commands(os_name, commands, files):
    """Run the `commands` parameter (list of lines) on a guest. Stops at the first failure."""
    lines = [ln for cmd in commands for ln in str(cmd).split("\n") if ln.strip()]
    if not lines:
        return 0, "", ""
    run_line = _windows_line if os_name == "windows" else _linux_line
    stdout, stderr = [], []
    for line in lines:
        code, out, err = run_line(line.strip(), files)
        stdout.append(out)
        stderr.append(err)
        if code != 0:
            return code, "".join(stdout), "".join(stderr)
    return 0, "".join(stdout), "".join(stderr)
