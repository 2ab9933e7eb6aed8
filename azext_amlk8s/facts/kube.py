# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 2, second source of facts: the cluster's own Kubernetes API, read-only (GET only, never a write).

Access (cli-contract.md, "Reading the cluster itself"):

- ``--kube-config FILE`` [``--kube-context NAME``]: that kubeconfig, read with the official ``kubernetes`` client's
  loader (contexts, token files, client certificates, exec plugins).
- AKS without ``--kube-config``: ``POST {cluster}/listClusterUserCredential`` (ContainerService REST spec,
  ManagedClusters_ListClusterUserCredentials), sent with azure-cli's HTTP logging off; the kubeconfig stays in
  memory.
- Microsoft Entra ID users (kubelogin exec plugin, or the retired ``azure`` auth provider): the token for the AKS
  server application (``--server-id``, ``6dae42f8-...`` in every cloud) comes from the signed-in az account, as
  kubelogin's ``-l azurecli`` mode does, so no kubelogin binary is needed.
- Arc without ``--kube-config``: not read (cluster connect needs a client proxy binary); the fix names
  ``az connectedk8s proxy`` and ``--kube-config``.

Secrets: the client's loader writes certificate and key data to temporary files. Here it writes them into a private
directory (mode 0700) that is removed as soon as the TLS context has loaded them, before the first request; tokens
and keys are never logged (urllib3 logs only the request line) and never reach a report.

The kubernetes package is imported only here, and only when a command reads the cluster.
"""

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Optional
from urllib.parse import quote, urlsplit

from azext_amlk8s._constants import (AKS_AAD_SERVER_APP_ID, CONTAINER_SERVICE_API, KUBE_CONNECT_TIMEOUT,
                                     KUBE_EXEC_INTERACTIVE_TIMEOUT, KUBE_EXEC_TIMEOUT, KUBE_MAX_PAGES,
                                     KUBE_PARALLEL_READS, KUBE_READ_TIMEOUT)
from azext_amlk8s._text import shell_quote

READ, UNKNOWN, SKIPPED = 'read', 'unknown', 'skipped'
# A path ending so is read as metadata only (Kubernetes API concepts, "Receiving resources as metadata only": the
# server answers with a PartialObjectMetadataList, names, labels and annotations, never a Secret's data).
METADATA_ONLY = '#metadata'
_METADATA_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json'


@dataclass
class Denied:
    """A read the API server refused (401/403) or failed (other 4xx/5xx): the check that needed it is unknown."""
    status: int
    reason: str

    def __str__(self):
        return f'HTTP {self.status} {self.reason}'.strip()


@dataclass
class Access:
    """How (and whether) the cluster's API server could be read."""
    status: str                      # read | unknown | skipped
    reason: str = ''                 # why not read (unknown/skipped)
    fix: str = ''                    # how to give access
    server: str = ''                 # scheme://host:port of the API server (no path, no credential)
    source: str = ''                 # where the credentials came from, for the report
    reader: Optional['Reader'] = None
    bodies: Dict[str, object] = field(default_factory=dict)   # path -> body | None (404) | Denied

    @property
    def is_read(self):
        return self.status == READ and self.reader is not None


class Unreachable(Exception):
    """The API server could not be reached, or refused the credentials as a whole."""


LOG_LIMIT_BYTES = 65536


class Reader:
    """GETs against one API server, concurrently; answers are JSON dicts."""

    def __init__(self, server, path_prefix, headers, pool):
        self.server = server
        self._prefix = path_prefix
        self._headers = headers
        self._pool = pool

    def get(self, path):
        """The object at ``path`` (dict), None for 404, a ``Denied`` for other failures; ``Unreachable`` when the
        server cannot be reached or rejects the credentials (401).

        A list is read to its end: while ``metadata.continue`` is set the next page is asked for (API concepts,
        "Retrieving large results sets in chunks"), and the items of every page are returned as one list. A page that
        fails (or an expired token, 410 Gone) makes the whole list a ``Denied``: a part is never taken for the whole.
        """
        answer = self._get_one(path)
        pages = 1
        while isinstance(answer, dict) and isinstance(answer.get('items'), list):
            token = (answer.get('metadata') or {}).get('continue') if isinstance(answer.get('metadata'), dict) else None
            if not token:
                return answer
            if pages >= KUBE_MAX_PAGES:
                return Denied(0, f'the list has more than {KUBE_MAX_PAGES} pages')
            base, marker = (path[:-len(METADATA_ONLY)], METADATA_ONLY) if path.endswith(METADATA_ONLY) else (path, '')
            following = self._get_one(base + ('&' if '?' in base else '?') + 'continue=' + quote(str(token), safe='')
                                      + marker)
            pages += 1
            if not isinstance(following, dict):
                return following if isinstance(following, Denied) else Denied(404, 'a page of the list vanished')
            following['items'] = answer['items'] + list(following.get('items') or [])
            answer = following
        return answer

    def _get_one(self, path):
        import urllib3
        headers = self._headers
        if path.endswith(METADATA_ONLY):
            path = path[:-len(METADATA_ONLY)]
            headers = dict(headers, Accept=_METADATA_ACCEPT)
        try:
            response = self._pool.request('GET', self.server + self._prefix + path, headers=headers,
                                          timeout=urllib3.Timeout(connect=KUBE_CONNECT_TIMEOUT,
                                                                  read=KUBE_READ_TIMEOUT),
                                          retries=False, redirect=False, preload_content=True)
        except urllib3.exceptions.HTTPError as ex:
            raise Unreachable(_network_reason(ex)) from None
        except (OSError, ValueError) as ex:     # a socket or TLS failure urllib3 did not wrap, an unusable URL
            raise Unreachable(f'the API server could not be read ({type(ex).__name__})') from None
        if response.status == 401:
            raise Unreachable('the API server refused the credentials (401 Unauthorized)')
        if response.status == 404:
            return None
        if response.status >= 300:
            return Denied(response.status, _status_message(response.data))
        if path.split('?', 1)[0].endswith('/log'):      # a container's log: text, bounded (limitBytes, and here)
            return {'kind': 'PodLog', 'text': response.data[:LOG_LIMIT_BYTES].decode('utf-8', 'replace')}
        try:
            return json.loads(response.data.decode('utf-8'))
        except ValueError:
            return Denied(response.status, 'the answer is not JSON')

    def get_all(self, paths):
        """{path: answer} for every path, read concurrently."""
        paths = list(dict.fromkeys(paths))
        if not paths:
            return {}
        with ThreadPoolExecutor(max_workers=min(KUBE_PARALLEL_READS, len(paths))) as pool:
            answers = list(pool.map(self.get, paths))
        return dict(zip(paths, answers))


def _status_message(data):
    try:
        body = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ''
    if isinstance(body, dict):
        return f"{body.get('reason') or ''}: {body.get('message') or ''}".strip(': ')[:300]
    return ''


def _network_reason(ex):
    text = str(getattr(ex, 'reason', None) or ex)
    lowered = text.lower()
    if 'certificate' in lowered or 'ssl' in lowered:
        return "the API server's TLS certificate is not trusted by the kubeconfig's certificate authority"
    if 'timed out' in lowered or 'timeout' in lowered:
        return 'the connection to the API server timed out'
    if 'name or service not known' in lowered or 'nodename nor servname' in lowered or 'getaddrinfo' in lowered \
            or 'name resolution' in lowered:
        return "the API server's name does not resolve from this machine"
    if 'refused' in lowered:
        return 'the API server refused the connection'
    return 'the API server could not be reached'


# --- the client library ----------------------------------------------------------------------------------------------

_WARMING = []


def warm_up():
    """Import the kubernetes client's loader in a background thread, so its import overlaps the ARM reads that come
    first (Python's import lock makes a later import wait for this one)."""
    if not _WARMING:
        thread = threading.Thread(target=_import_client, name='amlk8s-kube-import', daemon=True)
        _WARMING.append(thread)
        thread.start()


def _import_client():
    try:
        import kubernetes.config.kube_config  # noqa: F401  pylint: disable=unused-import
    except Exception:  # pylint: disable=broad-except  # pragma: no cover - reported where the client is used
        pass


# --- credentials ---------------------------------------------------------------------------------------------------

def arc_without_kubeconfig(ref):
    return Access(UNKNOWN, 'Azure Arc does not hand out credentials for the cluster\'s API server; without '
                  '--kube-config the in-cluster checks were not run.',
                  f'Run `az connectedk8s proxy {ref.aks_args} --file <kubeconfig>` in another terminal and pass '
                  '--kube-config <kubeconfig>, or pass --kube-config with a kubeconfig of the cluster.')


def skipped():
    return Access(SKIPPED, '--arm-only: the cluster\'s Kubernetes API was not read.', '')


def user_credential(client, ref):
    """The AKS user kubeconfig (text) from ARM, or an ``Access`` saying why there is none. Sent with logging off:
    the answer holds the credentials."""
    import base64
    from azure.core.exceptions import AzureError
    from azext_amlk8s._transport import arm_post
    try:
        response = arm_post(client, f'{ref.resource_id}/listClusterUserCredential', CONTAINER_SERVICE_API,
                            params={'format': 'exec'}, logging_enable=False)
    except AzureError as ex:
        code = getattr(getattr(ex, 'error', None), 'code', None) or getattr(ex, 'status_code', None) or 'error'
        return Access(UNKNOWN, f'Azure refused the cluster user credentials ({code}).',
                      f'Ask for the Azure Kubernetes Service Cluster User Role on the cluster, or pass --kube-config '
                      f'with a kubeconfig from `az aks get-credentials {ref.aks_args} --file <kubeconfig>`.')
    configs = ((response.body or {}).get('kubeconfigs') or []) if isinstance(response.body, dict) else []
    for entry in configs:
        if isinstance(entry, dict) and entry.get('value'):
            try:
                return base64.b64decode(entry['value']).decode('utf-8')
            except (ValueError, UnicodeDecodeError):
                break
    return Access(UNKNOWN, 'Azure returned no usable cluster user kubeconfig.',
                  f'Pass --kube-config with a kubeconfig from `az aks get-credentials {ref.aks_args} --file '
                  '<kubeconfig>`.')


def _server_id(user):
    """The Entra ID server application a kubelogin exec user or an `azure` auth-provider user asks a token for."""
    exec_ = user.get('exec') if isinstance(user.get('exec'), dict) else None
    if exec_ and os.path.basename(str(exec_.get('command') or '')).lower().startswith('kubelogin'):
        args = [str(a) for a in exec_.get('args') or []]
        for flag in ('--server-id', '--serverid'):
            if flag in args[:-1]:
                return args[args.index(flag) + 1]
        return AKS_AAD_SERVER_APP_ID
    provider = user.get('auth-provider') if isinstance(user.get('auth-provider'), dict) else None
    if provider and provider.get('name') == 'azure':
        return str((provider.get('config') or {}).get('apiserver-id') or AKS_AAD_SERVER_APP_ID)
    return None


def _entra_token(cmd, ref, server_id):
    from azure.cli.core._profile import Profile
    creds, _, _ = Profile(cli_ctx=cmd.cli_ctx).get_raw_token(resource=server_id, subscription=ref.subscription_id)
    return creds[1]


def _with_entra_token(cmd, ref, config, context, always):
    """Replace a kubelogin/azure-auth user of the active context by a bearer token from the az account. ``always``:
    also when kubelogin is installed (credentials from ARM); for a user's kubeconfig only when it is not."""
    name = _active(config, context).get('user')
    for entry in config.get('users') or []:
        if isinstance(entry, dict) and entry.get('name') == name and isinstance(entry.get('user'), dict):
            server_id = _server_id(entry['user'])
            if server_id and (always or not shutil.which('kubelogin')):
                entry['user'] = {'token': _entra_token(cmd, ref, server_id)}
                return True
    return False


def _active(config, context):
    wanted = context or config.get('current-context')
    for entry in config.get('contexts') or []:
        if isinstance(entry, dict) and entry.get('name') == wanted:
            return entry.get('context') or {}
    return {}


def read_kubeconfig_file(path, context):
    """(config dict, base path) of ``--kube-config``; a clear error for a missing file, bad YAML or an unknown
    context (before anything is read or written)."""
    import yaml
    from azure.cli.core.azclierror import FileOperationError, InvalidArgumentValueError
    from azext_amlk8s._validators import looks_like_content, looks_secret
    path = os.path.expanduser(path)
    if looks_like_content(path) or (looks_secret(path) and not os.path.exists(path)):
        # az expands --kube-config @file into the file's content: a kubeconfig holds tokens and keys, never shown.
        raise InvalidArgumentValueError(
            'The value given to --kube-config is the content of a file, not its path (not shown: a kubeconfig holds '
            "credentials). az reads a file in place of an argument written @path.",
            "Pass the kubeconfig's path without '@', for example --kube-config ~/.kube/config.")
    try:
        with open(path, 'r', encoding='utf-8') as handle:
            config = yaml.safe_load(handle)
    except OSError as ex:
        raise FileOperationError(f"Cannot read the file given to --kube-config ('{path}'): {ex.strerror}.",
                                 'Pass the path of a kubeconfig, for example one written by az aks get-credentials '
                                 '--file <kubeconfig>.') from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise InvalidArgumentValueError(f"The file given to --kube-config ('{path}') is not a kubeconfig (YAML).",
                                        'Pass the path of a kubeconfig.') from None
    if not isinstance(config, dict) or not isinstance(config.get('contexts'), list) or not config['contexts']:
        raise InvalidArgumentValueError(f"The file given to --kube-config ('{path}') has no contexts.",
                                        'Pass a kubeconfig with a context for the cluster.')
    names = [str(c.get('name')) for c in config['contexts'] if isinstance(c, dict)]
    wanted = context or config.get('current-context')
    if not wanted:
        raise InvalidArgumentValueError(f"The kubeconfig '{path}' has no current context.",
                                        f"Name one with --kube-context: {', '.join(names)}.")
    if wanted not in names:
        arg = '--kube-context' if context else "the kubeconfig's current-context"
        raise InvalidArgumentValueError(f"Context '{wanted}' ({arg}) is not in the kubeconfig '{path}'.",
                                        f"Use one of: {', '.join(shell_quote(n) for n in names)}.")
    return config, os.path.dirname(os.path.abspath(path))


def connect(cmd, config, context, *, base_path, source, ref, entra_always):
    """A ``Reader`` for the context's API server, or an ``Access`` saying why there is none. Nothing is sent yet."""
    try:
        _with_entra_token(cmd, ref, config, context, entra_always)
    except Exception as ex:  # pylint: disable=broad-except
        return Access(UNKNOWN, 'no Microsoft Entra ID token for the cluster could be had from the signed-in az '
                      f'account ({type(ex).__name__}).', 'Sign in with az login, then run the command again.')
    private = tempfile.mkdtemp(prefix='amlk8s-')
    try:
        return _configured(config, context, base_path, source, private)
    finally:
        _forget_temp_files(private)


class _BoundedPopen(subprocess.Popen):
    """The exec credential plugin's process, with a bound on how long it may take to answer: a plugin that hangs
    (waiting for a sign-in nobody sees, or for a network) is killed, so reading the cluster ends like any read."""

    def communicate(self, input=None, timeout=None):  # pylint: disable=redefined-builtin
        interactive = hasattr(sys.stdout, 'isatty') and sys.stdout.isatty()
        bound = KUBE_EXEC_INTERACTIVE_TIMEOUT if interactive else KUBE_EXEC_TIMEOUT
        try:
            return super().communicate(input, timeout=timeout if timeout is not None else bound)
        except subprocess.TimeoutExpired:
            self.kill()
            super().communicate()
            _EXEC.timed_out = bound     # the client's loader logs and swallows the error; _configured looks here
            raise ExecTimeout(bound) from None


_EXEC = threading.local()


class ExecTimeout(Exception):
    """The kubeconfig's exec plugin did not answer in time."""

    def __init__(self, seconds):
        super().__init__(f'exec: the credential plugin did not answer within {seconds:.0f} seconds')
        self.seconds = seconds


class _BoundedSubprocess:  # pylint: disable=too-few-public-methods
    """``subprocess`` as the client's ExecProvider sees it: the same, with ``Popen`` bounded in time."""
    Popen = _BoundedPopen

    def __getattr__(self, name):
        return getattr(subprocess, name)


def _bound_exec_plugins():
    from kubernetes.config import exec_provider
    if not isinstance(exec_provider.subprocess, _BoundedSubprocess):
        exec_provider.subprocess = _BoundedSubprocess()


def _configured(config, context, base_path, source, private):  # pylint: disable=too-many-locals
    import urllib3
    try:
        from kubernetes.client import Configuration
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KubeConfigLoader
        _bound_exec_plugins()
    except ImportError:
        return Access(UNKNOWN, 'the Python package kubernetes, which amlk8s reads the cluster with, is not installed.',
                      'Install the extension again: az extension remove -n amlk8s, then az extension add (it brings '
                      'the package).')
    configuration = Configuration()
    try:
        loader = KubeConfigLoader(config_dict=config, active_context=context, config_base_path=base_path,
                                  temp_file_path=private)
        _EXEC.timed_out = None
        loader.load_and_set(configuration)
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook(configuration)
        if _EXEC.timed_out:
            raise ExecTimeout(_EXEC.timed_out)
    except ExecTimeout as ex:
        return Access(UNKNOWN, f"the kubeconfig's exec credential plugin did not answer within {ex.seconds:.0f} "
                      'seconds, so it was stopped.',
                      'Run the plugin once yourself (kubectl --kubeconfig <kubeconfig> get nodes) to sign in, or '
                      'pass a kubeconfig with a token or client certificate.')
    except (ConfigException, KeyError, TypeError, ValueError, OSError) as ex:
        return Access(UNKNOWN, f'the kubeconfig could not be used ({type(ex).__name__}).',
                      'Check the kubeconfig with kubectl --kubeconfig <kubeconfig> get nodes.')
    parts = urlsplit(configuration.host or '')
    if parts.scheme != 'https' or not parts.hostname:
        return Access(UNKNOWN, "the kubeconfig's server is not an https:// URL.",
                      'Use a kubeconfig whose cluster server is the https:// address of the API server.')
    headers = {'Accept': 'application/json', 'User-Agent': 'amlk8s'}
    token = configuration.api_key.get('BearerToken') or configuration.api_key.get('authorization')
    if token:
        headers['Authorization'] = token
    elif configuration.username and configuration.password:
        headers['Authorization'] = configuration.get_basic_auth_token()
    try:
        context_ssl = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
        if configuration.cert_file and configuration.key_file:
            context_ssl.load_cert_chain(configuration.cert_file, configuration.key_file)
    except (ssl.SSLError, OSError, ValueError):
        return Access(UNKNOWN, "the kubeconfig's certificate authority or client certificate could not be loaded.",
                      'Check the kubeconfig with kubectl --kubeconfig <kubeconfig> get nodes.')
    if not configuration.verify_ssl:
        context_ssl.check_hostname = False
        context_ssl.verify_mode = ssl.CERT_NONE
    pool_args = {'ssl_context': context_ssl, 'maxsize': KUBE_PARALLEL_READS, 'cert_reqs':
                 ssl.CERT_REQUIRED if configuration.verify_ssl else ssl.CERT_NONE}
    if configuration.tls_server_name:
        pool_args['server_hostname'] = configuration.tls_server_name
    server = f'{parts.scheme}://{parts.netloc.rsplit("@", 1)[-1]}'
    reader = Reader(server, parts.path.rstrip('/'), headers, urllib3.PoolManager(**pool_args))
    return Access(READ, server=server, source=source, reader=reader)


def _forget_temp_files(private):
    """Remove the private directory with the certificate and key files, and the loader's memory of them."""
    shutil.rmtree(private, ignore_errors=True)
    try:
        from kubernetes.config import kube_config
    except ImportError:  # pragma: no cover - the loader was never imported
        return
    cache = getattr(kube_config, '_temp_files', None)
    if isinstance(cache, dict):
        for key in [k for k, v in cache.items() if str(v).startswith(private)]:
            cache.pop(key, None)


def open_access(cmd, client, ref, *, kube_config=None, kube_context=None, arm_only=False):
    """How the cluster is read: skipped (--arm-only), unknown (why, and how to give access), or a ready reader."""
    import yaml
    if arm_only:
        return skipped()
    if kube_config:
        config, base = read_kubeconfig_file(kube_config, kube_context)
        context = kube_context or config.get('current-context')
        return connect(cmd, config, context, base_path=base, source=f'--kube-config context {context}', ref=ref,
                       entra_always=False)
    if not ref.is_aks:
        return arc_without_kubeconfig(ref)
    text = user_credential(client, ref)
    if isinstance(text, Access):
        return text
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        config = None
    if not isinstance(config, dict):
        return Access(UNKNOWN, 'Azure returned a cluster user kubeconfig that could not be read.',
                      f'Pass --kube-config with a kubeconfig from `az aks get-credentials {ref.aks_args} --file '
                      '<kubeconfig>`.')
    return connect(cmd, config, None, base_path='', source='cluster user credentials from Azure', ref=ref,
                   entra_always=True)


def read(access, paths):
    """Read ``paths`` into ``access.bodies``; an unreachable server turns the access to unknown (the reason kept)."""
    if not access.is_read:
        return access
    try:
        access.bodies.update(access.reader.get_all(paths))
    except Unreachable as ex:
        access.status, access.reason = UNKNOWN, str(ex)
        access.fix = 'Check that this machine can reach the API server (kubectl --kubeconfig <kubeconfig> get nodes).'
        access.reader = None
    return access


def read_each(access, paths):
    """Read ``paths`` into ``access.bodies`` one outcome each: a path whose server does not answer in time becomes
    a ``Denied`` of its own (status 0), and the access stays read (the support bundle's logs: a slow kubelet must not
    cost what was already read)."""
    if not access.is_read or not paths:
        return access

    def one(path):
        try:
            return access.reader.get(path)
        except Unreachable as ex:
            return Denied(0, str(ex))
    with ThreadPoolExecutor(max_workers=min(KUBE_PARALLEL_READS, len(paths))) as pool:
        access.bodies.update(zip(paths, pool.map(one, paths)))
    return access


def path_of(namespace, plural, name=None, group=None, *, version='v1', query=None, metadata_only=False):
    """The REST path of a resource collection or object (group None: the core API); ``metadata_only`` marks it to be
    read as metadata only (``METADATA_ONLY``)."""
    base = f'/api/{version}' if not group else f'/apis/{group}/{version}'
    if namespace:
        base += f'/namespaces/{quote(namespace, safe="")}'
    base += f'/{plural}'
    if name:
        base += f'/{quote(name, safe="")}'
    if query:
        base += '?' + '&'.join(f'{k}={quote(str(v), safe="")}' for k, v in query.items())
    return base + (METADATA_ONLY if metadata_only else '')
