# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Commands amlk8s prints for the user to run: one quoting rule for all of them. Standard library only.

Every name that reaches a printed command (resource group, cluster, extension, node pool, file path, ...) goes
through ``shell_quote``, so pasting the command into a POSIX shell runs exactly that command: ``-n 'ml$(id)'`` comes
back as ``-n 'ml$(id)'``, never as ``-n ml$(id)``. What the user must fill in is written as a ``<placeholder>`` and
left unquoted, so it stands out (and a shell refuses it rather than running something else).
"""

import re
import shlex

_PLACEHOLDER = re.compile(r'^<[^<>\s][^<>]*>$')


def is_placeholder(token: str) -> bool:
    return bool(_PLACEHOLDER.match(str(token)))


def shell_quote(value) -> str:
    """Quote a value for a copy-and-paste command line; plain Azure names come back unchanged, a ``<placeholder>``
    is left as it is."""
    text = str(value)
    if is_placeholder(text):
        return text
    return shlex.quote(text)


def command(*tokens) -> str:
    """A printed command from its tokens: ``command('az', 'aks', 'show', '-g', rg, '-n', name)``."""
    return ' '.join(shell_quote(token) for token in tokens)
