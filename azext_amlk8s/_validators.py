# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Argument parsing: KEY=VALUE lists and JSON settings files. Usage errors stop here."""

import argparse
import json
import os
import re

from azure.cli.core.azclierror import FileOperationError, InvalidArgumentValueError

from azext_amlk8s._text import shell_quote


def parse_key_value(item: str, option: str, protected: bool = False):
    """'key=value' -> ('key', 'value'), split on the first '='.

    With ``protected`` (the item came from --config-protected) an error never shows the item: a malformed item may
    be a secret pasted without its name.
    """
    key, sep, value = item.partition('=')
    key = key.strip()
    if not sep or not key:
        raise InvalidArgumentValueError(
            f'Option {option} expects KEY=VALUE pairs, but got {_shown(item, sep, protected)}.',
            f"Write each setting as KEY=VALUE with no spaces around \"=\", for example {option} "
            f"{'relayServerConnectionString=<value>' if protected else 'enableTraining=true'}. Quote values that "
            "contain spaces.")
    if any(c.isspace() for c in key):
        raise InvalidArgumentValueError(
            f'Option {option} got the setting name {key!r}, which contains a space.',
            'Write each setting as KEY=VALUE with no spaces around "=".')
    return key, value


def _shown(item: str, sep: str, protected: bool) -> str:
    if protected:
        # A malformed protected item may be a secret: describe it, never show it.
        what = 'with nothing before "="' if sep else 'without "="'
        return f'an item {what} ({len(item)} characters, not shown: it may be a secret)'
    return repr(item if len(item) <= 40 else f"{item[:40]}...")


class KeyValueAction(argparse.Action):  # pylint: disable=too-few-public-methods
    """Collects repeated `KEY=VALUE ...` lists into one dict; a key given twice with different values is an error."""

    def __call__(self, parser, namespace, values, option_string=None):
        option = option_string or '/'.join(self.option_strings)
        protected = 'protected' in self.dest
        current = getattr(namespace, self.dest, None) or {}
        for item in values if isinstance(values, list) else [values]:
            key, value = parse_key_value(item, option, protected)
            if key in current and current[key] != value:
                raise InvalidArgumentValueError(
                    f'Option {option} sets {key} twice with different values.', 'Give each setting once.')
            current[key] = value
        setattr(namespace, self.dest, current)


# The names that become segments of the ARM path: --resource-group, --cluster-name and --name.
NAME_ARGUMENTS = (('resource_group_name', '--resource-group'), ('cluster_name', '--cluster-name'),
                  ('extension_name', '--name'))
_PATH_BREAKERS = set('/\\?#%')


def validate_resource_names(namespace):
    """Refuse a resource group, cluster or extension name that cannot be one segment of the ARM path.

    Without this an empty --name sends the PUT to the extensions collection, an empty --cluster-name reads the list
    of clusters as if it were the cluster, and a name with "/" or "?" addresses another resource. Only what breaks
    the path is refused: the service judges the rest (case, length, allowed characters).
    """
    for dest, option in NAME_ARGUMENTS:
        value = getattr(namespace, dest, None)
        if value is None:
            continue
        problem = None
        if not value.strip():
            problem = 'is empty'
        elif value != value.strip():
            problem = 'starts or ends with a space'
        elif value in ('.', '..'):
            problem = 'is not a name'
        elif _PATH_BREAKERS & set(value) or any(ord(c) < 32 or ord(c) == 127 for c in value):
            problem = 'contains a character that cannot be part of a resource name (/ \\ ? # % or a control character)'
        if problem:
            example = {'--name': 'azureml', '--cluster-name': 'my-aks'}.get(option, 'my-resource-group')
            raise InvalidArgumentValueError(f'{option} {value!r} {problem}.',
                                            f'Give the name as Azure shows it, for example {option} {example}.')


def _flatten(prefix, value, out, path):
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f'{prefix}.{key}' if prefix else str(key), inner, out, path)
        return
    if prefix in out:
        raise InvalidArgumentValueError(
            f'The setting {prefix} is given twice in {path} (once as a dotted key, once nested).',
            'Give each setting once.')
    if isinstance(value, bool):
        out[prefix] = 'true' if value else 'false'
    elif isinstance(value, (int, float, str)):
        out[prefix] = str(value)
    else:
        raise InvalidArgumentValueError(
            f"The setting {prefix} in {path} has a {'null' if value is None else type(value).__name__} value; settings "
            "are strings, numbers or true/false.",
            f'Write it as "{prefix}": "<value>" (nested objects are flattened to dotted keys).')


def _refuse_duplicates(where):
    """A json.loads object_pairs_hook: a key given twice in one object is an error (json keeps the last silently)."""
    def hook(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise InvalidArgumentValueError(
                    f'The setting {key} is given twice in {where}.',
                    'Give each setting once (JSON keeps only the last of duplicate keys; amlk8s refuses them, as it '
                    'refuses the same key twice in --config).')
            seen[key] = value
        return seen
    return hook


def looks_like_content(value: str) -> bool:
    """True when a file argument holds the file's content: az expands ``@path`` arguments into the file's text
    before the extension sees them (``--config-file @settings.json``)."""
    text = value.strip()
    return text.startswith(('{', '[')) or '\n' in value or '\r' in value


# A run of letters, digits, "+", "_" and "-" this long, mixing upper case, lower case and digits, reads as a key or a
# token, not as an Azure name or a path segment (GUIDs are lower case, names rarely mix all three).
_TOKEN_RUN = re.compile(r'[A-Za-z0-9+_-]{32,}')


def looks_secret(value: str) -> bool:
    """True when a value given where a name or a path is expected may be a secret: it holds "=" or ";" (connection
    strings, base64 padding), is longer than a path (260 characters), or holds a key-like run of characters.

    az expands ``@path`` (and ``KEY=@path``) into the file's content, without its last newline: a one-line file
    arrives as a plain value, and messages must not quote it.
    """
    text = str(value)
    if '=' in text or ';' in text or len(text) > 260:
        return True
    return any(re.search('[A-Z]', run) and re.search('[a-z]', run) and re.search('[0-9]', run)
               for run in _TOKEN_RUN.findall(text))


def shown_value(value) -> str:
    """How a message shows a value the user gave: quoted, or described when it came from a file (az expands
    ``@path``) or may be a secret, so that a message never prints what az read from a file."""
    text = str(value)
    if looks_like_content(text) or '-----BEGIN' in text:
        return f'a value of {len(text)} characters read from a file (not shown)'
    if looks_secret(text):
        return f'a value of {len(text)} characters (not shown: it may be a secret)'
    return repr(text)


def file_label(path: str, option: str) -> str:
    """How messages name the file given by ``option``; never its content, which az put in place of ``@path`` (a
    settings file may hold secrets), nor a value that may be a secret itself."""
    if looks_like_content(path) or '-----BEGIN' in path:
        return f'the file given to {option} (az read it from @file)'
    if looks_secret(path):
        return f'the value given to {option} ({len(path)} characters, not shown: it may be a secret)'
    return f'the file {path} given to {option}'


def read_settings_file(path: str, option: str) -> dict:
    """A JSON object of KEY: VALUE (nested objects become dotted keys), as `--config-file` takes.

    ``path`` may also be the file's content itself (az expands ``@path`` before the extension sees it). Errors name
    the file (or say that its content was given) and the offending key, never a value: the file may hold protected
    settings.
    """
    where = file_label(path, option)
    if looks_like_content(path):
        raw = path.encode('utf-8')
    else:
        try:
            full = os.path.abspath(os.path.expanduser(path))
            with open(full, 'rb') as handle:
                raw = handle.read()
        except (OSError, ValueError) as ex:     # ValueError: a path with a NUL character
            why = getattr(ex, 'strerror', None) or type(ex).__name__
            raise FileOperationError(f"{where[0].upper() + where[1:]} cannot be read ({why}).",
                                     'Check the path and its permissions.') from None
    try:
        data = json.loads(raw.decode('utf-8-sig'), object_pairs_hook=_refuse_duplicates(where))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidArgumentValueError(
            f'{where[0].upper() + where[1:]} is not JSON.',
            'The file must hold one JSON object of settings, for example {"enableTraining": "true"}.') from None
    if not isinstance(data, dict):
        raise InvalidArgumentValueError(
            f'{where[0].upper() + where[1:]} holds JSON, but not an object of settings.',
            'The file must hold one JSON object, for example {"enableTraining": "true"}.')
    if not data:
        raise InvalidArgumentValueError(f'{where[0].upper() + where[1:]} holds no settings.',
                                        f'Add settings to the file or drop {option}.')
    out = {}
    try:
        _flatten('', data, out, where)
    except RecursionError:
        raise InvalidArgumentValueError(
            f'The settings in {where} are nested too deeply.',
            'Write the settings as one object of dotted keys, for example {"nodeSelector.agentpool": "mlpool"}.'
        ) from None
    return out


# Extension names become Kubernetes object and Helm release names: the service refuses names that are not
# RFC 1123 names, Helm release names have at most 53 characters, and the chart prefixes Service names
# (<name>-kube-state-metrics, <name>-prometheus-operator), which must be DNS-1035 labels (start with a letter).
_EXTENSION_NAME = re.compile(r'^[a-z]([-a-z0-9]{0,51}[a-z0-9])?$')


def validate_extension_name(name: str):
    """Refuse an extension name the service, Helm or the chart's Service names would refuse (for a new extension)."""
    if _EXTENSION_NAME.match(name or ''):
        return
    problems = []
    if len(name) > 53:
        problems.append(f'{len(name)} characters (Helm release names have at most 53)')
    if name != name.lower():
        problems.append('upper-case letters')
    if not name[:1].isalpha():
        problems.append('does not start with a letter')
    if set(name.lower()) - set('abcdefghijklmnopqrstuvwxyz0123456789-'):
        problems.append('characters other than a-z, 0-9 and "-"')
    if name.endswith('-'):
        problems.append('ends with "-"')
    raise InvalidArgumentValueError(
        f"--name {shell_quote(name)} is not a valid extension name: {', '.join(problems) or 'invalid'}.",
        'Use 1-53 lower-case letters, digits and "-", starting with a letter and ending with a letter or digit, for '
        'example --name azureml.')


CLUSTER_ARGUMENTS = (('resource_group_name', '--resource-group/-g'), ('cluster_name', '--cluster-name/-c'),
                     ('cluster_type', '--cluster-type/-t'))


def cluster_or_ids(cmd, namespace):
    """The cluster is named by -g/-c/-t or by --ids: a missing one is a usage error (exit code 2, as argparse gives
    for a required argument), before any request."""
    parallel = getattr(namespace, 'max_parallel', None)
    if parallel is not None and not getattr(parallel, 'is_default', False) and parallel < 1:
        _usage_error(namespace, f'argument --max-parallel: {parallel} is not a number of clusters; give 1 or more '
                                '(default: 20).')
    selectors = ('where', 'management_groups', 'subscriptions', 'cluster_types')
    selecting = any(getattr(namespace, key, None) for key in selectors)
    if getattr(namespace, 'ids', None) or selecting:
        if getattr(namespace, 'kube_config', None):
            _usage_error(namespace, 'argument --kube-config: not allowed with --ids. A kubeconfig reaches one '
                                    "cluster's API server; with --ids each cluster is read with its own credentials "
                                    '(AKS: from Azure). Run the command once per cluster with its --kube-config, or '
                                    'drop --kube-config.')
        return
    if getattr(namespace, 'stages', None):
        _usage_error(namespace, 'argument --stages: needs many clusters: give --ids or a selection (--where, '
                                '--subscriptions, --management-groups, --cluster-types) instead of -g/-c/-t.')
    missing = [option for dest, option in CLUSTER_ARGUMENTS if not getattr(namespace, dest, None)]
    if missing:
        _usage_error(namespace, f"the following arguments are required: {', '.join(missing)} (or --ids with cluster "
                                f"resource ids). Try this: az {cmd.name} -g <resource-group> -c <cluster-name> -t "
                                'managedClusters')


def _usage_error(namespace, message):
    """A usage error (exit code 2), as argparse gives it."""
    parser = getattr(namespace, '_parser', None)
    if parser is not None and hasattr(parser, 'validation_error'):
        parser.validation_error(message)
    raise argparse.ArgumentError(None, message)


def validate_rollout(namespace):
    """--stages waits for each stage (no --no-wait); --max-failures and --stage-wait belong to --stages."""
    stages = getattr(namespace, 'stages', None)
    if stages and getattr(namespace, 'no_wait', False):
        _usage_error(namespace, 'argument --no-wait: not allowed with --stages: each stage is gated on its clusters '
                                'reaching Succeeded and passing verify.')
    for dest, flag in (('max_failures', '--max-failures'), ('stage_wait', '--stage-wait')):
        value = getattr(namespace, dest, None)
        if value is not None and not getattr(value, 'is_default', False) and not stages:
            _usage_error(namespace, f'argument {flag}: only with --stages.')
    wait = getattr(namespace, 'stage_wait', None)
    if wait is not None and not getattr(wait, 'is_default', False) and wait < 0:
        _usage_error(namespace, f'argument --stage-wait: {wait} is not a number of seconds; give 0 or more.')


def validate_export(namespace):
    """--export describes one cluster's extension: not with --ids or a selection, and it never waits."""
    if not getattr(namespace, 'export', None):
        return
    many = any(getattr(namespace, key, None) for key in ('ids', 'where', 'management_groups', 'subscriptions',
                                                         'cluster_types'))
    if many:
        _usage_error(namespace, 'argument --export: one cluster at a time (-g/-c/-t): the file describes that '
                                "cluster's extension. For a fleet, --export policy gives one definition for all.")
