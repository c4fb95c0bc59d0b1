"""Passwords out of URLs before they reach a line, a file or a tracker.

One function for every form a storage or tracking URL may carry a password in:
the URL's user info (``user:pw@``, ``:pw@``, a password with an unescaped ``@`` or
``/``), and a ``password=`` parameter (a query string, libpq's ``key=value``
form). It takes any text: a URL alone, or a database error that quotes one.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://[user]:PASSWORD@host — the password runs to the last "@" of the word that is
# followed by a host, so it may itself hold "@" or "/".
_USER_INFO = re.compile(
    r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s'\"]*:)(?P<password>[^\s'\"]*)@(?P<host>[^@\s/'\"?]*)"
    r"(?=[/?:\s'\"]|$)"
)
_PARAMETER = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?P<password>[^&\s'\"#;]*)")


def mask_password(text: str) -> str:
    """``text`` with every password in it replaced by ``***``.

    ``postgresql://ann:s3cr@t@db/x`` -> ``postgresql://ann:***@db/x``;
    ``postgresql://db/x?password=pw`` -> ``postgresql://db/x?password=***``.
    """
    text = _USER_INFO.sub(lambda m: f"{m['head']}{MASK}@{m['host']}" if m["password"] else m[0], text)
    return _PARAMETER.sub(lambda m: f"{m['head']}{MASK}" if m["password"] else m[0], text)
