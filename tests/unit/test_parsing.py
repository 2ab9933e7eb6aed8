"""Bad input never crashes the parsing step: the KEY=VALUE parser, its argparse action and the settings-file reader.

Every input gives either a valid result or a *specific* azure.cli.core.azclierror error (never a base class, never
a bare CLIError, never another exception), and errors about protected input never echo the protected value.
"""
# pylint: disable=missing-docstring

import argparse
import json
import os

import pytest
from azure.cli.core import azclierror
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from azext_amlk8s._validators import KeyValueAction, parse_key_value, read_settings_file

GENERIC = (azclierror.AzCLIError, azclierror.UserFault, azclierror.ServiceError, azclierror.ClientError,
           azclierror.UnknownError)


def assert_specific(ex):
    """A specific, user-facing azclierror with a message and a recommendation."""
    assert isinstance(ex, azclierror.AzCLIError), 'not an azclierror: {!r}'.format(type(ex))
    assert type(ex) not in GENERIC, 'a generic {} instead of a specific error'.format(type(ex).__name__)
    assert ex.error_msg and (ex.error_msg[0].isupper() or ex.error_msg.startswith('--'))
    assert ex.recommendations


def outcome(func, *args):
    """(result, None) or (None, the specific error); anything else fails the test."""
    try:
        return func(*args), None
    except azclierror.AzCLIError as ex:
        assert_specific(ex)
        return None, ex


def text_of(ex):
    return ex.error_msg + ' ' + ' '.join(ex.recommendations or [])


OPTIONS = st.sampled_from(['--config', '--config-protected', '--node-selector', '--configuration-settings'])
ITEMS = st.text(max_size=40) | st.builds('{}={}'.format, st.text(max_size=15), st.text(max_size=25))


# --- parse_key_value ---------------------------------------------------------------------------------------------

@hsettings(max_examples=400, deadline=None)
@given(item=ITEMS, option=OPTIONS, protected=st.booleans())
@example(item='=x', option='--config', protected=False)
@example(item=' =x', option='--config', protected=False)
@example(item='a b=c', option='--config', protected=False)
@example(item='enableTraining', option='--config', protected=False)
@example(item='\x00=\x00', option='--config', protected=True)
def test_parse_key_value_gives_a_pair_or_a_specific_error(item, option, protected):
    result, error = outcome(parse_key_value, item, option, protected)
    if error is not None:
        assert isinstance(error, azclierror.InvalidArgumentValueError)
        assert option in error.error_msg
        return
    key, value = result
    assert key and key == key.strip() and not any(c.isspace() for c in key)
    assert item.split('=', 1)[1] == value               # split on the first '=', value kept verbatim
    assert item.split('=', 1)[0].strip() == key


@hsettings(max_examples=300, deadline=None)
@given(secret=st.text(min_size=4, max_size=60).filter(lambda s: '=' not in s).map(lambda s: 'Zq7x' + s),
       shape=st.sampled_from(['{s}', '={s}', ' ={s}', '=={s}']))
def test_a_malformed_protected_item_is_never_echoed(secret, shape):
    item = shape.format(s=secret)
    with pytest.raises(azclierror.InvalidArgumentValueError) as info:
        parse_key_value(item, '--config-protected', protected=True)
    assert secret[:8] not in text_of(info.value)          # not even its start (a truncated echo)
    assert '--config-protected' in info.value.error_msg


def test_a_malformed_public_item_is_shown_to_help_the_user():
    with pytest.raises(azclierror.InvalidArgumentValueError) as info:
        parse_key_value('enableTraining', '--config')
    assert "'enableTraining'" in info.value.error_msg


# --- KeyValueAction through argparse -----------------------------------------------------------------------------

def parser():
    result = argparse.ArgumentParser(prog='az amlk8s deploy', add_help=False)
    result.add_argument('--config', dest='configuration_settings', nargs='+', action=KeyValueAction)
    result.add_argument('--config-protected', dest='configuration_protected_settings', nargs='+',
                        action=KeyValueAction)
    result.add_argument('--node-selector', dest='node_selector', nargs='+', action=KeyValueAction)
    return result


GROUPS = st.lists(st.tuples(st.sampled_from(['--config', '--config-protected', '--node-selector']),
                            st.lists(ITEMS.filter(lambda i: not i.startswith('-')), min_size=1, max_size=4)),
                  max_size=4)


@hsettings(max_examples=300, deadline=None)
@given(groups=GROUPS)
@example(groups=[('--config', ['a=1']), ('--config', ['a=2'])])
@example(groups=[('--config', ['a=1', 'a=1'])])
def test_key_value_action_merges_repeats_or_raises_a_specific_error(groups):
    argv = [part for option, items in groups for part in [option] + items]
    try:
        namespace = parser().parse_args(argv)
    except azclierror.AzCLIError as ex:
        assert_specific(ex)
        return
    except SystemExit:              # argparse's own usage error (exit 2), e.g. an item argparse takes for a flag
        return
    for dest, option in (('configuration_settings', '--config'),
                         ('configuration_protected_settings', '--config-protected'),
                         ('node_selector', '--node-selector')):
        given_items = [i for o, items in groups if o == option for i in items]
        merged = getattr(namespace, dest)
        if not given_items:
            assert merged is None
            continue
        expected = {}
        for item in given_items:
            key, _, value = item.partition('=')
            expected[key.strip()] = value
        assert merged == expected


def test_a_key_given_twice_with_different_values_names_the_option_and_key():
    with pytest.raises(azclierror.InvalidArgumentValueError) as info:
        parser().parse_args(['--config', 'enableTraining=true', '--config', 'enableTraining=false'])
    assert '--config' in info.value.error_msg and 'enableTraining' in info.value.error_msg


def test_the_protected_option_never_echoes_a_bad_item_through_argparse():
    secret = 'c2VjcmV0LXZhbHVlLW5vdC10by1zaG93'
    for item in (secret, '=' + secret):
        with pytest.raises(azclierror.InvalidArgumentValueError) as info:
            parser().parse_args(['--config-protected', item])
        assert secret not in text_of(info.value) and secret[:8] not in text_of(info.value)


# --- read_settings_file ------------------------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=3) |
                           st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)


def write(tmp_path, data, name='settings.json'):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
@example(raw=b'\xef\xbb\xbf{"enableTraining": true}')
@example(raw=b'[' * 5000 + b']' * 5000)
@example(raw=b'{"a":' * 3000 + b'1' + b'}' * 3000)
@example(raw=b'{"a": 1' + b'0' * 5000 + b'}')
@example(raw=b'\xff\xfe{\x00}\x00')
def test_any_bytes_give_settings_or_a_specific_error(tmp_path, raw):
    result, error = outcome(read_settings_file, write(tmp_path, raw), '--config-file')
    if error is None:
        assert isinstance(result, dict) and result
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())
    else:
        assert '--config-file' in error.error_msg


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON_VALUES)
def test_any_json_gives_flat_string_settings_or_a_specific_error(tmp_path, data):
    path = write(tmp_path, json.dumps(data).encode('utf-8'))
    result, error = outcome(read_settings_file, path, '--config-protected-file')
    if error is not None:
        assert isinstance(error, (azclierror.InvalidArgumentValueError, azclierror.FileOperationError))
        return
    assert isinstance(data, dict) and data
    assert all(isinstance(v, str) for v in result.values())
    # Nested objects become dotted keys; booleans become lower-case words.
    for key, value in data.items():
        if isinstance(value, bool):
            assert result[key] == ('true' if value else 'false')
        elif isinstance(value, str):
            assert result[key] == value


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', min_size=12,
                      max_size=40),
       wrap=st.sampled_from(['list', 'null-sibling', 'object-in-list', 'truncated']))
def test_errors_about_a_protected_file_never_echo_its_values(tmp_path, secret, wrap):
    documents = {
        'list': {'relayServerConnectionString': [secret]},
        'null-sibling': {'relayServerConnectionString': secret, 'other': None},
        'object-in-list': {'x': [{'key': secret}]},
        'truncated': None,
    }
    raw = json.dumps(documents[wrap]).encode() if wrap != 'truncated' else \
        ('{"relayServerConnectionString": "' + secret).encode()
    with pytest.raises(azclierror.AzCLIError) as info:
        read_settings_file(write(tmp_path, raw), '--config-protected-file')
    assert_specific(info.value)
    assert secret not in text_of(info.value)


@pytest.mark.parametrize('name, expected', [
    ('missing', azclierror.FileOperationError),
    ('directory', azclierror.FileOperationError),
    ('nul', azclierror.FileOperationError),
    ('array', azclierror.InvalidArgumentValueError),
    ('empty-object', azclierror.InvalidArgumentValueError),
    ('empty-file', azclierror.InvalidArgumentValueError),
    ('nested-null', azclierror.InvalidArgumentValueError),
])
def test_file_problems_are_specific_errors_naming_the_option(tmp_path, name, expected):
    paths = {
        'missing': str(tmp_path / 'nope.json'),
        'directory': str(tmp_path),
        'nul': str(tmp_path / 'a\x00b.json'),
        'array': b'[{"enableTraining": "true"}]',
        'empty-object': b'{}',
        'empty-file': b'',
        'nested-null': b'{"nodeSelector": {"agentpool": null}}',
    }
    if isinstance(paths[name], bytes):
        paths[name] = write(tmp_path, paths[name], name + '.json')
    with pytest.raises(expected) as info:
        read_settings_file(paths[name], '--config-file')
    assert_specific(info.value)
    assert '--config-file' in info.value.error_msg
    if name == 'nested-null':
        assert 'nodeSelector.agentpool' in info.value.error_msg


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads every file')
def test_an_unreadable_file_is_a_file_error(tmp_path):
    path = write(tmp_path, b'{"enableTraining": "true"}')
    os.chmod(path, 0)
    with pytest.raises(azclierror.FileOperationError):
        read_settings_file(path, '--config-file')


def test_nested_objects_are_flattened_to_dotted_keys(tmp_path):
    path = write(tmp_path, b'{"nodeSelector": {"agentpool": "ml", "kubernetes.io/os": "linux"}, "a": 1, "b": false}')
    assert read_settings_file(path, '--config-file') == {
        'nodeSelector.agentpool': 'ml', 'nodeSelector.kubernetes.io/os': 'linux', 'a': '1', 'b': 'false'}


def test_a_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    write(tmp_path, b'{"enableTraining": "true"}', 'home.json')
    assert read_settings_file('~/home.json', '--config-file') == {'enableTraining': 'true'}
