# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Argument parsing: KEY=VALUE lists and JSON settings files. Usage errors stop here."""

import argparse
import json
import os

from azure.cli.core.azclierror import FileOperationError, InvalidArgumentValueError


def parse_key_value(item: str, option: str):
    """'key=value' -> ('key', 'value'), split on the first '='."""
    key, sep, value = item.partition('=')
    key = key.strip()
    if not sep or not key:
        raise InvalidArgumentValueError(
            'Option {} expects KEY=VALUE pairs, but got {!r}.'.format(option, _shown(item)),
            'Write each setting as KEY=VALUE with no spaces around "=", for example {} enableTraining=true. Quote '
            'values that contain spaces.'.format(option))
    if any(c.isspace() for c in key):
        raise InvalidArgumentValueError(
            'Option {} got the setting name {!r}, which contains a space.'.format(option, key),
            'Write each setting as KEY=VALUE with no spaces around "=".')
    return key, value


def _shown(item: str) -> str:
    # A malformed protected item may be a secret: show only its start.
    return item if len(item) <= 12 else item[:12] + '...'


class KeyValueAction(argparse.Action):  # pylint: disable=too-few-public-methods
    """Collects repeated `KEY=VALUE ...` lists into one dict; a key given twice with different values is an error."""

    def __call__(self, parser, namespace, values, option_string=None):
        option = option_string or '/'.join(self.option_strings)
        current = getattr(namespace, self.dest, None) or {}
        for item in values if isinstance(values, list) else [values]:
            key, value = parse_key_value(item, option)
            if key in current and current[key] != value:
                raise InvalidArgumentValueError(
                    'Option {} sets {} twice with different values.'.format(option, key), 'Give each setting once.')
            current[key] = value
        setattr(namespace, self.dest, current)


def _flatten(prefix, value, out, path):
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten('{}.{}'.format(prefix, key) if prefix else str(key), inner, out, path)
    elif isinstance(value, bool):
        out[prefix] = 'true' if value else 'false'
    elif isinstance(value, (int, float, str)):
        out[prefix] = str(value)
    else:
        raise InvalidArgumentValueError(
            'The setting {} in {} has a {} value; settings are strings, numbers or true/false.'.format(
                prefix, path, 'null' if value is None else type(value).__name__),
            'Write it as "{}": "<value>" (nested objects are flattened to dotted keys).'.format(prefix))


def read_settings_file(path: str, option: str) -> dict:
    """A JSON object of KEY: VALUE (nested objects become dotted keys), as `--config-file` takes."""
    full = os.path.abspath(os.path.expanduser(path))
    try:
        with open(full, 'rb') as handle:
            raw = handle.read()
    except OSError as ex:
        raise FileOperationError('The file {} given by {} cannot be read ({}).'.format(path, option, ex.strerror or ex),
                                 'Check the path and its permissions.') from None
    try:
        data = json.loads(raw.decode('utf-8-sig'))
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgumentValueError(
            'The file {} given by {} is not JSON.'.format(path, option),
            'The file must hold one JSON object of settings, for example {"enableTraining": "true"}.') from None
    if not isinstance(data, dict):
        raise InvalidArgumentValueError('The file {} given by {} holds JSON, but not an object of settings.'.format(path, option),
                                        'The file must hold one JSON object, for example {"enableTraining": "true"}.')
    if not data:
        raise InvalidArgumentValueError('The file {} given by {} holds no settings.'.format(path, option),
                                        'Add settings to the file or drop {}.'.format(option))
    out = {}
    _flatten('', data, out, path)
    return out
