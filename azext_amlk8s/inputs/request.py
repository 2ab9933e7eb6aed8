# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 1 of every command: the handler's arguments become one frozen request value.

argparse gives strings (and azure-cli wraps defaults); each builder here takes the handler's ``locals()``, unwraps
the defaults once, builds the cluster reference, reads the settings files, merges typed flags and raw ``KEY=VALUE``
settings into one ``SettingsInput`` (the TLS files as their own field), and checks what needs no Azure read: the
k8s-extension compatibility arguments, the version arguments and the ``--ignore-check`` ids. Usage errors stop here,
before any request.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

from azext_amlk8s._constants import DEFAULT_EXTENSION_NAME

if TYPE_CHECKING:    # for the annotations only: importing them here would load the rules with the command table
    from azext_amlk8s.facts.cluster import ClusterRef
    from azext_amlk8s.rules.settings import SettingsInput, VersionChoice
    from azext_amlk8s.act.workspace import WorkspaceRef


def plain(value):
    """A value as the user meant it: azure-cli wraps argument defaults (knack's DefaultStr/DefaultInt, which print
    as {"isDefault": true} in JSON output); unwrap them once, here."""
    if getattr(value, 'is_default', False):
        return int(value) if isinstance(value, int) else str(value)
    return value


@dataclass(frozen=True)
class Target:
    """The cluster (``ClusterRef``) and the extension's name."""
    ref: 'ClusterRef'
    extension_name: str


@dataclass(frozen=True)
class SettingsRequest:
    """What deploy, check and update were told about the extension's configuration and version."""
    settings_input: 'SettingsInput'     # raw and typed settings merged, TLS files apart
    version: 'VersionChoice'
    auto_upgrade: Optional[bool]        # the arguments as given (update compares them with the extension)
    version_given: Optional[str]
    release_train_given: Optional[str]
    node_selector_given: bool

    @property
    def empty(self) -> bool:
        return self.settings_input.empty and (self.auto_upgrade, self.version_given,
                                              self.release_train_given) == (None, None, None)


@dataclass(frozen=True)
class KubeOptions:
    """How check, deploy and verify read the cluster's Kubernetes API (--kube-config, --kube-context, --arm-only)."""
    kube_config: Optional[str] = None
    kube_context: Optional[str] = None
    arm_only: bool = False
    grace: int = 120            # --grace: seconds a release pod may be stuck while the operation runs
    fail_fast: bool = False     # --fail-fast: stop waiting at the first such diagnosis


@dataclass(frozen=True)
class DeployRequest:  # pylint: disable=too-many-instance-attributes
    target: Target
    settings: SettingsRequest
    ignore: Tuple[str, ...]
    dry_run: bool
    no_wait: bool
    workspace: Optional['WorkspaceRef'] = None  # --workspace: also check what attaching to it needs
    create_trusted_access: bool = False
    yes: bool = False                           # confirms the Trusted Access binding --create-trusted-access makes
    kube: KubeOptions = KubeOptions()
    export: Optional[str] = None                # --export arm|bicep|terraform|policy: every check, then the file
    export_file: Optional[str] = None


@dataclass(frozen=True)
class CheckRequest:
    target: Target
    settings: Optional[SettingsRequest]     # None: no settings given (only the cluster is checked)
    settings_error: Optional[object]        # the usage error of the settings, reported as the check "settings"
    ignore: Tuple[str, ...]
    workspace: Optional['WorkspaceRef'] = None
    kube: KubeOptions = KubeOptions()


@dataclass(frozen=True)
class UpdateRequest:
    target: Target
    settings: SettingsRequest
    yes: bool
    no_wait: bool


@dataclass(frozen=True)
class VerifyRequest:
    target: Target
    wait: bool
    timeout: Optional[int]
    workspace: Optional['WorkspaceRef'] = None  # --workspace: also report its computes on this cluster
    kube: KubeOptions = KubeOptions()
    collect: Optional[str] = None               # --collect FILE.zip|DIR: the support bundle
    collect_max_mb: int = 50


@dataclass(frozen=True)
class DeleteRequest:
    target: Target
    yes: bool
    force: bool
    cleanup: bool
    no_wait: bool


@dataclass(frozen=True)
class AttachRequest:  # pylint: disable=too-many-instance-attributes
    target: Target
    workspace: 'WorkspaceRef'
    compute_name: str
    namespace: str
    identity: dict                      # the compute's identity block
    no_wait: bool
    kube: KubeOptions = KubeOptions()   # to see that the namespace exists in the cluster
    export: Optional[str] = None        # --export arm|bicep|terraform: every check, then the compute as a file
    export_file: Optional[str] = None


@dataclass(frozen=True)
class DetachRequest:
    workspace: 'WorkspaceRef'
    compute_name: str
    ref: Optional['ClusterRef']         # with the cluster arguments: the compute must be on this cluster
    yes: bool
    no_wait: bool
    scope: Optional[tuple] = None       # (subscription, resource group, cluster type) without --cluster-name


def target(cmd, raw) -> Target:
    from azure.cli.core.azclierror import RequiredArgumentMissingError
    from azure.cli.core.commands.client_factory import get_subscription_id
    from azext_amlk8s.facts.cluster import ClusterRef, normalize_cluster_type
    from azext_amlk8s.act.fleet import collecting
    missing = [option for dest, option in (('resource_group_name', '--resource-group'),
                                           ('cluster_name', '--cluster-name'), ('cluster_type', '--cluster-type'))
               if not raw.get(dest)]
    if missing:
        raise RequiredArgumentMissingError(f"The cluster is not named: {', '.join(missing)} missing.",
                                           'Give --resource-group, --cluster-name and --cluster-type, or --ids with '
                                           'cluster resource ids.')
    subscription = (collecting() or {}).get('subscription') or get_subscription_id(cmd.cli_ctx)
    ref = ClusterRef(subscription, plain(raw['resource_group_name']),
                     plain(raw['cluster_name']), normalize_cluster_type(plain(raw['cluster_type'])))
    return Target(ref, plain(raw.get('extension_name')) or DEFAULT_EXTENSION_NAME)


def _typed(raw):
    """The typed flags that were given, as setting key -> (value as the user meant it, flag)."""
    from azext_amlk8s._catalogue import CATALOGUE
    typed = {}
    for key in CATALOGUE.values():
        value = raw.get(key.param) if key.flag else None
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        typed[key.name] = (value, key.flag)
    return typed


def settings_request(raw, *, default_train=True) -> SettingsRequest:
    from azext_amlk8s.rules import settings
    from azext_amlk8s._validators import read_settings_file
    settings.check_fixed_arguments(raw.get('extension_type'), raw.get('scope'), raw.get('release_namespace'))
    choice = settings.resolve_version(raw.get('auto_upgrade_minor_version'), raw.get('version'),
                                      raw.get('release_train'), default_train=default_train)
    files = {}
    for dest, option in (('configuration_settings_file', '--config-file'),
                         ('configuration_protected_settings_file', '--config-protected-file')):
        if raw.get(dest):
            files[dest] = (raw[dest], read_settings_file(raw[dest], option))
    settings_input = settings.collect(
        config=raw.get('configuration_settings'), protected=raw.get('configuration_protected_settings'),
        config_file=files.get('configuration_settings_file'),
        protected_file=files.get('configuration_protected_settings_file'), typed=_typed(raw),
        node_selector=raw.get('node_selector'))
    version = raw.get('version')
    return SettingsRequest(settings_input, choice, raw.get('auto_upgrade_minor_version'),
                           version.strip() if isinstance(version, str) else version, raw.get('release_train'),
                           raw.get('node_selector') is not None)


def _ignore(raw):
    from azext_amlk8s.rules.prereqs import validate_ignore_ids
    return tuple(validate_ignore_ids(raw.get('ignore_checks') or []))


def workspace_ref(raw):
    """--workspace parsed (None when not given)."""
    from azext_amlk8s.act.workspace import parse_workspace_id
    value = plain(raw.get('workspace'))
    return parse_workspace_id(value) if value is not None else None


def kube_options(raw) -> KubeOptions:
    from azure.cli.core.azclierror import MutuallyExclusiveArgumentError, RequiredArgumentMissingError
    config, context = plain(raw.get('kube_config')), plain(raw.get('kube_context'))
    arm_only = bool(raw.get('arm_only'))
    if arm_only and (config or context):
        raise MutuallyExclusiveArgumentError('--arm-only reads no Kubernetes API, so --kube-config and --kube-context '
                                             'have nothing to do.', 'Keep --arm-only or the kubeconfig options.')
    if context and not config:
        raise RequiredArgumentMissingError('--kube-context names a context of --kube-config, which is missing.',
                                           'Pass --kube-config <kubeconfig> with it, or leave --kube-context out.')
    grace, fail_fast = _live_options(raw, arm_only)
    return KubeOptions(config or None, context or None, arm_only, grace, fail_fast)


def _live_options(raw, arm_only):
    """--grace and --fail-fast: how the cluster is watched while deploy or verify --wait waits."""
    from azure.cli.core.azclierror import InvalidArgumentValueError, MutuallyExclusiveArgumentError
    from azext_amlk8s.act.live import DEFAULT_GRACE_SECONDS
    grace, fail_fast = plain(raw.get('grace')), bool(raw.get('fail_fast'))
    waits = not raw.get('no_wait') and not raw.get('dry_run') and ('wait' not in raw or raw.get('wait'))
    for given, option in ((grace is not None, '--grace'), (fail_fast, '--fail-fast')):
        if given and arm_only:
            raise MutuallyExclusiveArgumentError(f'{option} watches the cluster while the command waits, and '
                                                 '--arm-only reads no cluster.', f'Drop {option} or --arm-only.')
        if given and not waits:
            wait = '--wait' if 'wait' in raw else 'a deploy that waits (no --no-wait, no --dry-run)'
            raise InvalidArgumentValueError(f'{option} applies only with {wait}.', f'Drop {option}.')
    if grace is not None and (not isinstance(grace, int) or grace < 0):
        raise InvalidArgumentValueError('--grace must be a whole number of seconds, 0 or more.', 'For example --grace '
                                        f'{DEFAULT_GRACE_SECONDS}.')
    return (DEFAULT_GRACE_SECONDS if grace is None else grace), fail_fast


def deploy(cmd, raw) -> DeployRequest:
    from azure.cli.core.azclierror import RequiredArgumentMissingError
    workspace = workspace_ref(raw)
    if raw.get('create_trusted_access') and workspace is None:
        raise RequiredArgumentMissingError('--create-trusted-access needs --workspace: the binding is for that '
                                           'workspace.', 'Add --workspace <workspace-id>.')
    export = (plain(raw.get('export')) or '').lower() or None
    if raw.get('export_file') and not export:
        raise RequiredArgumentMissingError('--export-file needs --export (arm, bicep, terraform or policy).',
                                           'Add --export arm (or bicep, terraform, policy).')
    return DeployRequest(target(cmd, raw), settings_request(raw), _ignore(raw),
                         bool(raw.get('dry_run')) or export is not None, bool(raw.get('no_wait')), workspace,
                         bool(raw.get('create_trusted_access')), bool(raw.get('yes')), kube_options(raw),
                         export, plain(raw.get('export_file')) or None)


def check(cmd, raw) -> CheckRequest:
    from azure.cli.core.azclierror import AzCLIError
    where, ignore, workspace, kube = target(cmd, raw), _ignore(raw), workspace_ref(raw), kube_options(raw)
    try:
        request = settings_request(raw)
    except AzCLIError as ex:
        return CheckRequest(where, None, ex, ignore, workspace, kube)
    given = not request.settings_input.empty or request.version_given
    return CheckRequest(where, request if given else None, None, ignore, workspace, kube)


def update(cmd, raw) -> UpdateRequest:
    return UpdateRequest(target(cmd, raw), settings_request(raw, default_train=False), bool(raw.get('yes')),
                         bool(raw.get('no_wait')))


def verify(cmd, raw) -> VerifyRequest:
    from azure.cli.core.azclierror import InvalidArgumentValueError
    wait, timeout = bool(raw.get('wait')), plain(raw.get('timeout'))
    if timeout is not None and not wait:
        raise InvalidArgumentValueError('--timeout applies only with --wait.', 'Add --wait or drop --timeout.')
    if timeout is not None and timeout <= 0:
        raise InvalidArgumentValueError('--timeout must be a positive number of seconds.', 'For example --timeout 600.')
    limit = plain(raw.get('collect_max_mb'))
    if limit is not None and (not raw.get('collect') or limit < 1):
        raise InvalidArgumentValueError('--collect-max-mb applies to --collect and must be 1 or more.',
                                        'For example --collect bundle.zip --collect-max-mb 20.')
    return VerifyRequest(target(cmd, raw), wait, timeout, workspace_ref(raw), kube_options(raw),
                         plain(raw.get('collect')) or None, limit or 50)


def delete(cmd, raw) -> DeleteRequest:
    from azure.cli.core.azclierror import MutuallyExclusiveArgumentError
    if raw.get('cleanup') and raw.get('no_wait'):
        raise MutuallyExclusiveArgumentError(
            '--cleanup removes the Azure Relay after the extension is gone, so it cannot be combined with --no-wait.',
            'Drop --no-wait, or run the same delete with --cleanup again after az amlk8s wait <cluster arguments> '
            '--deleted.')
    return DeleteRequest(target(cmd, raw), bool(raw.get('yes')), bool(raw.get('force')), bool(raw.get('cleanup')),
                         bool(raw.get('no_wait')))


def attach(cmd, raw) -> AttachRequest:
    from azext_amlk8s.act import workspace
    namespace = plain(raw.get('namespace')) or workspace.DEFAULT_NAMESPACE
    export = (plain(raw.get('export')) or '').lower() or None
    if raw.get('export_file') and not export:
        from azure.cli.core.azclierror import RequiredArgumentMissingError
        raise RequiredArgumentMissingError('--export-file needs --export (arm, bicep or terraform).',
                                           'Add --export arm (or bicep, terraform).')
    return AttachRequest(target(cmd, raw), workspace_ref(raw), workspace.validate_compute_name(raw['compute_name']),
                         workspace.validate_namespace(namespace),
                         workspace.identity_of(plain(raw.get('identity_type')), raw.get('user_assigned_identity')),
                         bool(raw.get('no_wait')), kube_options(raw), export, plain(raw.get('export_file')) or None)


def detach(cmd, raw) -> DetachRequest:
    from azure.cli.core.azclierror import RequiredArgumentMissingError
    from azext_amlk8s.act import workspace
    from azext_amlk8s.facts.cluster import normalize_cluster_type
    cluster = [plain(raw.get(k)) for k in ('resource_group_name', 'cluster_name', 'cluster_type')]
    if cluster[1] is not None and not all(v is not None for v in cluster):
        raise RequiredArgumentMissingError(
            'To check that the compute is on your cluster, give --resource-group and --cluster-type with '
            '--cluster-name.', 'For example: -g <resource-group> -c <cluster> -t managedClusters')
    ref = target(cmd, raw).ref if cluster[1] is not None else None
    # -g (and -t) without -c still narrow the target: the compute's cluster must be in that resource group (of that
    # type); a scoping argument is never ignored.
    scope = None
    if ref is None and (cluster[0] is not None or cluster[2] is not None):
        from azure.cli.core.commands.client_factory import get_subscription_id
        scope = (get_subscription_id(cmd.cli_ctx), cluster[0],
                 normalize_cluster_type(cluster[2]) if cluster[2] is not None else None)
    return DetachRequest(workspace_ref(raw), workspace.validate_compute_name(raw['compute_name']), ref,
                         bool(raw.get('yes')), bool(raw.get('no_wait')), scope)
