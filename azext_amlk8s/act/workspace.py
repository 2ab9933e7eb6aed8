# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Workspace hand-off: attaching the cluster to an Azure Machine Learning workspace as a Kubernetes compute target.

Sources: the MachineLearningServices REST spec (2024-10-01: Workspaces_Get, Compute_List/Get/CreateOrUpdate/Delete,
example Compute/createOrUpdate/KubernetesCompute.json; Compute_Delete requires ``underlyingResourceAction``), the
ContainerService REST spec (trustedAccessRoleBindings), Microsoft Learn "Attach a Kubernetes cluster to Azure Machine
Learning workspace" (same subscription; the Arc workaround; the identity's roles) and the AML-Kubernetes Trusted
Access notes (one binding per workspace, role ``Microsoft.MachineLearningServices/workspaces/mlworkload``).

The reads (workspace, its computes, one compute, the cluster's Trusted Access bindings) come first; the rest is
pure. The checks ``check --workspace``, ``deploy --workspace`` and ``attach`` add to the report (never skipped with
--ignore-check: the service itself refuses the attach):

========================  ==========================================  ==============================
id                        applies to                                  statuses
========================  ==========================================  ==============================
workspace-subscription    AKS, Arc                                    pass, fail
legacy-compute            AKS, Arc (a v1 ``AKS`` compute of the       pass, fail, unknown
                          workspace on this cluster)
trusted-access            AKS with local accounts disabled            pass, fail, unknown
========================  ==========================================  ==============================
"""

import hashlib
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from azext_amlk8s._constants import CONTAINER_SERVICE_API, ML_API, ML_RP, ML_TRUSTED_ACCESS_ROLE
from azext_amlk8s._text import shell_quote
from azext_amlk8s.rules.prereqs import FAIL, PASS, UNKNOWN, CheckResult

KUBERNETES = 'Kubernetes'
LEGACY_AKS = 'AKS'
DEFAULT_NAMESPACE = 'default'
IDENTITY_TYPES = ('SystemAssigned', 'UserAssigned')
ARC_DOC = 'https://learn.microsoft.com/azure/machine-learning/how-to-attach-kubernetes-to-workspace'
TITLES = {'workspace-subscription': 'Workspace subscription', 'legacy-compute': 'Legacy AKS compute',
          'trusted-access': 'Trusted Access for the workspace'}
_WORKSPACE_ID = re.compile(r'/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/'
                           r'Microsoft\.MachineLearningServices/workspaces/(?P<name>[^/]+)', re.IGNORECASE)
_COMPUTE_NAME = re.compile(r'[A-Za-z][A-Za-z0-9-]{1,23}')
_NAMESPACE = re.compile(r'[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?')
_BINDING_MAX = 24


@dataclass(frozen=True)
class WorkspaceRef:
    subscription_id: str
    resource_group: str
    name: str

    @property
    def resource_id(self):
        return (f'/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/{ML_RP}/'
                f'workspaces/{self.name}')

    def compute_id(self, compute_name):
        return f'{self.resource_id}/computes/{compute_name}'

    @property
    def display(self):
        return f"workspace '{self.name}' in resource group '{self.resource_group}'"

    @property
    def ml_args(self):
        """``--resource-group rg --workspace-name ws --subscription sub``: the arguments of ``az ml`` commands."""
        return (f'--resource-group {shell_quote(self.resource_group)} --workspace-name {shell_quote(self.name)} '
                f'--subscription {shell_quote(self.subscription_id)}')


@dataclass(frozen=True)
class WorkspaceFacts:
    """What the workspace checks read: the workspace's location, its computes and the cluster's bindings."""
    workspace: WorkspaceRef
    location: Optional[str]
    computes: Optional[Tuple[dict, ...]]        # None: could not be listed
    local_accounts_disabled: Optional[bool]     # AKS only; None for Arc or unknown
    bindings: Optional[Tuple[dict, ...]]        # None: not read (not needed) or could not be read


# --- request: parsing ----------------------------------------------------------------------------------------------

_IDENTITY_ID = re.compile(r'/subscriptions/[^/\s]+/resourceGroups/[^/\s]+/providers/Microsoft\.ManagedIdentity/'
                          r'userAssignedIdentities/[A-Za-z0-9][A-Za-z0-9_-]{2,127}', re.IGNORECASE)


def parse_workspace_id(value) -> WorkspaceRef:
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s._validators import shown_value
    text = str(value or '').strip().rstrip('/')
    found = _WORKSPACE_ID.fullmatch(text)
    if not found or any(not part.strip() for part in found.groups()):
        raise InvalidArgumentValueError(
            f'--workspace {shown_value(value)} is not an Azure Machine Learning workspace resource id.',
            'Give the id as /subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/'
            'Microsoft.MachineLearningServices/workspaces/<workspace> (az ml workspace show -n <workspace> -g '
            '<resource-group> --query id -o tsv prints it).')
    return WorkspaceRef(found['sub'], found['rg'], found['name'])


def validate_compute_name(name):
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s._validators import shown_value
    if not _COMPUTE_NAME.fullmatch(str(name or '')):
        raise InvalidArgumentValueError(
            f'--compute-name {shown_value(name)} is not a valid compute name: 2 to 24 characters, starting with a '
            'letter, only letters, digits and hyphens.', 'For example --compute-name k8s-compute.')
    return name


def validate_namespace(namespace):
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s._validators import shown_value
    if not _NAMESPACE.fullmatch(str(namespace or '')):
        raise InvalidArgumentValueError(
            f'--namespace {shown_value(namespace)} is not a Kubernetes namespace name: at most 63 lower-case letters, '
            "digits and '-', starting and ending with a letter or digit.", 'For example --namespace default.')
    return namespace


def identity_of(identity_type, user_assigned_identity):
    """The compute's ``identity`` block; usage errors for a user-assigned identity given wrongly."""
    from azure.cli.core.azclierror import InvalidArgumentValueError, RequiredArgumentMissingError
    kind = identity_type or 'SystemAssigned'
    if kind == 'UserAssigned' and not user_assigned_identity:
        raise RequiredArgumentMissingError('--identity-type UserAssigned needs --user-assigned-identity.',
                                           'Add --user-assigned-identity /subscriptions/<subscription-id>/'
                                           'resourceGroups/<resource-group>/providers/Microsoft.ManagedIdentity/'
                                           'userAssignedIdentities/<identity>')
    if kind != 'UserAssigned' and user_assigned_identity:
        raise InvalidArgumentValueError('--user-assigned-identity applies only with --identity-type UserAssigned.',
                                        'Add --identity-type UserAssigned, or drop --user-assigned-identity.')
    if kind == 'UserAssigned':
        from azext_amlk8s._validators import shown_value
        text = str(user_assigned_identity).strip().rstrip('/')
        if not _IDENTITY_ID.fullmatch(text):
            raise InvalidArgumentValueError(
                f'--user-assigned-identity {shown_value(user_assigned_identity)} is not the resource id of a '
                'user-assigned managed identity.',
                'Give /subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/'
                'Microsoft.ManagedIdentity/userAssignedIdentities/<identity> (az identity show -g <resource-group> '
                '-n <identity> --query id -o tsv prints it).')
        return {'type': 'UserAssigned', 'userAssignedIdentities': {text: {}}}
    return {'type': 'SystemAssigned'}


# --- facts: the reads ------------------------------------------------------------------------------------------------

def read_workspace(client, ws: WorkspaceRef) -> dict:
    """The workspace's ARM body; a missing workspace is a ResourceNotFoundError (exit code 3)."""
    from azure.cli.core.azclierror import ResourceNotFoundError
    from azext_amlk8s._transport import arm_get
    response = arm_get(client, ws.resource_id, ML_API)
    if response.status == 404:
        raise ResourceNotFoundError(f'The {ws.display} (subscription {ws.subscription_id}) was not found.',
                                    'Check --workspace: az ml workspace list -o table lists the workspaces.')
    return response.body or {}


def list_computes(client, ws: WorkspaceRef) -> Optional[List[dict]]:
    from azext_amlk8s._transport import arm_list
    return arm_list(client, f'{ws.resource_id}/computes', ML_API)


def read_compute(client, ws: WorkspaceRef, compute_name) -> Optional[dict]:
    from azext_amlk8s._transport import arm_get
    response = arm_get(client, ws.compute_id(compute_name), ML_API)
    return None if response.status == 404 else (response.body or {})


def computes_of(client, ws: WorkspaceRef) -> List[dict]:
    """The workspace's computes; a missing workspace is a ResourceNotFoundError (exit code 3)."""
    read_workspace(client, ws)
    return list_computes(client, ws) or []


def read_bindings(client, cluster_id) -> Optional[List[dict]]:
    from azure.core.exceptions import HttpResponseError
    from azext_amlk8s._transport import arm_list
    try:
        return arm_list(client, f'{cluster_id}/trustedAccessRoleBindings', CONTAINER_SERVICE_API)
    except HttpResponseError:
        return None


def local_accounts_disabled(ref, cluster) -> Optional[bool]:
    """From the AKS cluster body (absent = enabled, the API default); None for Arc or an unread cluster."""
    if not ref.is_aks or not isinstance(cluster, dict):
        return None
    return bool((cluster.get('properties') or {}).get('disableLocalAccounts'))


def gather(client, ws: WorkspaceRef, ref, *, local_accounts_off: Optional[bool], body=None) -> WorkspaceFacts:
    """The workspace's facts for the checks (``body``: the workspace, when already read)."""
    from azure.core.exceptions import HttpResponseError
    body = body if body is not None else read_workspace(client, ws)
    try:
        computes = list_computes(client, ws)
    except HttpResponseError:
        computes = None
    disabled = bool(local_accounts_off) if ref.is_aks and local_accounts_off is not None else None
    bindings = read_bindings(client, ref.resource_id) if disabled else None
    return WorkspaceFacts(ws, body.get('location'), None if computes is None else tuple(computes), disabled,
                          None if bindings is None else tuple(bindings))


# --- plan: the rules -------------------------------------------------------------------------------------------------

def _row(check_id, status, finding, fix=None):
    return CheckResult(check_id, TITLES[check_id], status, finding, fix, ignorable=False)


def _props(compute):
    props = (compute or {}).get('properties')
    return props if isinstance(props, dict) else {}


def _same_id(one, other):
    return str(one or '').strip().rstrip('/').lower() == str(other or '').strip().rstrip('/').lower()


def computes_on(computes, cluster_id, compute_type=None) -> List[dict]:
    """The computes that point at the cluster (of ``compute_type`` when given)."""
    return [c for c in computes or () if _same_id(_props(c).get('resourceId'), cluster_id)
            and (compute_type is None or str(_props(c).get('computeType') or '').lower() == compute_type.lower())]


def check_subscription(ws: WorkspaceRef, ref) -> CheckResult:
    if ws.subscription_id.lower() == ref.subscription_id.lower():
        return _row('workspace-subscription', PASS, f'The {ws.display} is in the cluster\'s subscription.')
    return _row(
        'workspace-subscription', FAIL,
        f'The {ws.display} is in subscription {ws.subscription_id}, the {ref.display} in {ref.subscription_id}: '
        'a Kubernetes cluster can be attached only to a workspace of its own subscription.',
        ('Connect the AKS cluster to Azure Arc in the workspace\'s subscription (az connectedk8s connect -g '
         '<resource-group> -n <arc-cluster> --subscription ' + shell_quote(ws.subscription_id) + '), deploy the '
         'extension there and attach the Azure Arc-enabled cluster instead: ' + ARC_DOC)
        if ref.is_aks else f'Attach the cluster to a workspace in subscription {ref.subscription_id}: {ARC_DOC}')


def check_legacy(facts: WorkspaceFacts, ref) -> CheckResult:
    ws = facts.workspace
    if facts.computes is None:
        return _row('legacy-compute', UNKNOWN, f'The computes of the {ws.display} could not be listed.',
                    f'az ml compute list {ws.ml_args} --type AKS -o table')
    legacy = computes_on(facts.computes, ref.resource_id, LEGACY_AKS)
    if not legacy:
        return _row('legacy-compute', PASS, f'No legacy AKS (v1) compute of the {ws.display} uses this cluster.')
    names = ', '.join(repr(c.get('name')) for c in legacy)
    first = shell_quote(legacy[0].get('name') or '<compute>')
    return _row(
        'legacy-compute', FAIL,
        f'The {ws.display} has the legacy AKS (v1) compute {names} on this cluster: its azureml-fe inference '
        'router and the AzureML extension cannot run side by side.',
        f'Detach it and clean the v1 components up first: `az ml compute detach {ws.ml_args} --name {first} --yes`, '
        'then delete what the v1 attach installed (kubectl delete namespace azureml, if only v1 used it, and the '
        "azureml-fe service in the namespace the v1 attach used); see the v1 to v2 migration notes in "
        f'{ARC_DOC}')


def ml_binding_for(bindings, workspace_id) -> Optional[dict]:
    """The binding whose sourceResourceId is the workspace (any roles), or None."""
    for item in bindings or ():
        if _same_id(_props(item).get('sourceResourceId'), workspace_id):
            return item
    return None


def has_ml_role(binding) -> bool:
    roles = _props(binding).get('roles')
    return isinstance(roles, list) and any(str(r).strip().lower() == ML_TRUSTED_ACCESS_ROLE.lower() for r in roles)


def binding_name(ws: WorkspaceRef, bindings=()) -> str:
    """The binding's name: an existing binding of the workspace keeps its name (one per workspace), else ``aml-`` and
    the workspace's name, at most 24 characters of [A-Za-z0-9-] (a short hash of the id when cut)."""
    existing = ml_binding_for(bindings, ws.resource_id)
    if existing and existing.get('name'):
        return existing['name']
    name = 'aml-' + re.sub(r'[^A-Za-z0-9-]', '-', ws.name)
    if len(name) > _BINDING_MAX:
        digest = hashlib.sha256(ws.resource_id.lower().encode()).hexdigest()[:6]
        name = name[:_BINDING_MAX - 7].rstrip('-') + '-' + digest
    return name


def binding_body(ws: WorkspaceRef, existing=None) -> dict:
    roles = [r for r in (_props(existing).get('roles') or []) if isinstance(r, str)]
    if not any(r.lower() == ML_TRUSTED_ACCESS_ROLE.lower() for r in roles):
        roles.append(ML_TRUSTED_ACCESS_ROLE)
    return {'properties': {'sourceResourceId': ws.resource_id, 'roles': roles}}


def trusted_access_command(ws: WorkspaceRef, ref, bindings=()) -> str:
    return (f'az aks trustedaccess rolebinding create --resource-group {shell_quote(ref.resource_group)} '
            f'--cluster-name {shell_quote(ref.cluster_name)} --name {shell_quote(binding_name(ws, bindings))} '
            f'--source-resource-id {shell_quote(ws.resource_id)} --roles {ML_TRUSTED_ACCESS_ROLE}')


def check_trusted_access(facts: WorkspaceFacts, ref) -> Optional[CheckResult]:
    ws, cid = facts.workspace, 'trusted-access'
    if not ref.is_aks or not facts.local_accounts_disabled:
        return None
    if facts.bindings is None:
        return _row(cid, UNKNOWN, 'The Trusted Access role bindings of the cluster could not be read.',
                    f'az aks trustedaccess rolebinding list -g {shell_quote(ref.resource_group)} --cluster-name '
                    f'{shell_quote(ref.cluster_name)} -o table')
    binding = ml_binding_for(facts.bindings, ws.resource_id)
    if binding is not None and has_ml_role(binding):
        return _row(cid, PASS, f"Trusted Access binding '{binding.get('name')}' grants {ML_TRUSTED_ACCESS_ROLE} to "
                               f'the {ws.display}.')
    return _row(
        cid, FAIL,
        f'Local accounts are disabled on the {ref.display}, and no Trusted Access binding grants '
        f'{ML_TRUSTED_ACCESS_ROLE} to the {ws.display}. Computes attached before the binding must be attached again.',
        f'{trusted_access_command(ws, ref, facts.bindings)} (or deploy with --workspace ... --create-trusted-access)')


def run_checks(facts: WorkspaceFacts, ref) -> List[CheckResult]:
    rows = [check_subscription(facts.workspace, ref), check_legacy(facts, ref), check_trusted_access(facts, ref)]
    return [r for r in rows if r is not None]


def blocking_unless_binding(rows, create_trusted_access) -> List[CheckResult]:
    """The failed rows that still block when ``--create-trusted-access`` will create the missing binding (the
    cluster's ``local-accounts`` failure is then fixed by the same binding)."""
    failed = [r for r in rows if r.status == FAIL]
    if create_trusted_access and any(r.id == 'trusted-access' for r in failed):
        return [r for r in failed if r.id not in ('trusted-access', 'local-accounts')]
    return failed


# --- attach and detach ----------------------------------------------------------------------------------------------

def planned_attach(client, req):
    """The attach's PUT body and the compute of that name as it is now (None: none yet)."""
    ws, ref = req.workspace, req.target.ref
    body = read_workspace(client, ws)
    description = f"{'AKS' if ref.is_aks else 'Azure Arc-enabled'} cluster {ref.cluster_name}, attached by az amlk8s"
    wanted = attach_body(location=body.get('location'), identity=req.identity, cluster_id=ref.resource_id,
                         namespace=req.namespace, description=description)
    return wanted, read_compute(client, ws, req.compute_name), body


def exported(req, body):
    """attach --export: the compute as a file (or on stdout, as it is); nothing was sent."""
    import sys
    from azext_amlk8s.report import export
    text = export.compute(req.export, body, req.workspace, req.compute_name)
    if not req.export_file:
        sys.stdout.write(text)
        return None
    from knack.log import get_logger
    with open(req.export_file, 'w', encoding='utf-8') as handle:
        handle.write(text)
    get_logger(__name__).warning('Wrote the %s export of compute %s to %s; nothing was sent to Azure.', req.export,
                                 req.compute_name, req.export_file)
    return None


def refuse_unready(client, req, workspace_body):
    """Refuse (nothing sent) unless the AzureML extension is Healthy (verify's verdict) and the workspace checks
    pass; returns the cluster's ARM body."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.rules import health
    from azext_amlk8s.facts.cluster import cluster_and_siblings, extension_not_found, read_extension
    from azext_amlk8s.rules.prereqs import blocking, summarize_failures
    ref, name, ws = req.target.ref, req.target.extension_name, req.workspace
    extension = read_extension(client, ref, name)
    if extension is None:
        raise extension_not_found(client, ref, name)
    cluster, others = cluster_and_siblings(client, ref, name)
    ctx = health.Context(resource_group=ref.resource_group, cluster_name=ref.cluster_name,
                         cluster_type=ref.cluster_type, extension_name=name, cluster_id=ref.resource_id)
    report = health.build_report(extension, ctx, cluster=cluster, others=others)
    if not health.is_healthy(report):
        raise ValidationError(f'The cluster cannot be attached yet: {health.failure_message(report)}',
                              f'Fix it first; the full report: az amlk8s verify {ref.cli_args} -n {shell_quote(name)}')
    facts = gather(client, ws, ref, local_accounts_off=local_accounts_disabled(ref, cluster), body=workspace_body)
    failed = blocking(run_checks(facts, ref))
    if failed:
        raise ValidationError(f'The {ref.display} cannot be attached to the {ws.display}: {summarize_failures(failed)}',
                              f'Check again with az amlk8s check {ref.cli_args} --workspace '
                              f'{shell_quote(ws.resource_id)}')
    return cluster


def compute_not_found(client, ws: WorkspaceRef, compute_name):
    """The error (exit code 3) for a missing compute; a missing workspace gets its own message."""
    from azure.cli.core.azclierror import ResourceNotFoundError
    read_workspace(client, ws)
    return ResourceNotFoundError(f"The {ws.display} has no compute '{compute_name}'.",
                                 f'az ml compute list {ws.ml_args} -o table lists its computes.')


def refuse_unless_on_cluster(existing, compute_name, ws: WorkspaceRef, ref):
    from azure.cli.core.azclierror import ValidationError
    props = _props(existing)
    kind = str(props.get('computeType') or '')
    if kind.lower() == KUBERNETES.lower() and _same_id(props.get('resourceId'), ref.resource_id):
        return
    what = f"a {kind or 'compute'} compute on {props.get('resourceId') or 'another resource'}"
    raise ValidationError(f"Compute '{compute_name}' of the {ws.display} is not a Kubernetes compute for the "
                          f'{ref.display}: it is {what}. Nothing was changed.',
                          'Check --compute-name and the cluster arguments, or drop the cluster arguments to detach '
                          'it anyway.')


def refuse_unless_kubernetes(existing, compute_name, ws: WorkspaceRef):
    """detach removes only what this product attaches: a compute of type Kubernetes."""
    from azure.cli.core.azclierror import ValidationError
    props = _props(existing)
    kind = str(props.get('computeType') or '')
    if kind.lower() == KUBERNETES.lower():
        return
    raise ValidationError(f"Compute '{compute_name}' of the {ws.display} is {_a(kind or 'untyped')} compute, not a "
                          'Kubernetes compute: az amlk8s detach removes only the Kubernetes computes that attach AKS '
                          'and Azure Arc-enabled clusters. Nothing was changed.',
                          f'Check --compute-name; to remove this compute use az ml compute detach --name '
                          f'{shell_quote(compute_name)} {ws.ml_args} (or az ml compute delete).')


def refuse_outside_scope(existing, compute_name, ws: WorkspaceRef, scope):
    """-g (and -t) without -c: the compute's cluster must be in that resource group (and of that type)."""
    from azure.cli.core.azclierror import ValidationError
    subscription, resource_group, cluster_type = scope
    resource_id = str(_props(existing).get('resourceId') or '')
    parts = resource_id.strip('/').split('/')
    keys = {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}
    wanted = []
    if resource_group is not None:
        wanted.append(str(keys.get('subscriptions', '')).lower() == str(subscription or '').lower()
                      and str(keys.get('resourcegroups', '')).lower() == resource_group.lower())
    if cluster_type is not None:
        wanted.append(cluster_type.lower() in [p.lower() for p in parts])
    if all(wanted):
        return
    given = ' '.join(f'{flag} {shell_quote(value)}' for flag, value in
                     (('-g', resource_group), ('-t', cluster_type)) if value is not None)
    raise ValidationError(f"Compute '{compute_name}' of the {ws.display} attaches {resource_id or 'no cluster'}, "
                          f'which is not a cluster of {given}. Nothing was changed.',
                          'Check --compute-name and the cluster arguments, or drop them to detach it anyway.')


def _a(word: str) -> str:
    return ('an ' if word[:1].lower() in 'aeiou' else 'a ') + word


def detach_question(existing, compute_name, ws: WorkspaceRef) -> str:
    props = _props(existing)
    return (f"Detach compute '{compute_name}' ({props.get('computeType') or 'compute'} on "
            f"{props.get('resourceId') or 'an unknown resource'}) from the {ws.display}? Jobs and endpoints that use "
            'it stop working; the cluster and its AzureML extension stay. Proceed?')


def attach_body(*, location, identity, cluster_id, namespace, description) -> dict:
    """The PUT body of ``computes/NAME`` (Compute_CreateOrUpdate, example KubernetesCompute.json)."""
    return {'location': location, 'identity': identity,
            'properties': {'computeType': KUBERNETES, 'resourceId': cluster_id, 'description': description,
                           'properties': {'namespace': namespace}}}


def compare_existing(existing, body) -> Optional[str]:
    """None when there is no compute yet; ``same`` when it already is this attach (a no-op); ``retry`` when it is
    this attach but ended Failed (sending it again re-attaches); otherwise a sentence on what it points at."""
    if existing is None:
        return None
    props, wanted = _props(existing), body['properties']
    inner = props.get('properties') if isinstance(props.get('properties'), dict) else {}
    kind = str(props.get('computeType') or '')
    if kind.lower() != KUBERNETES.lower() or not _same_id(props.get('resourceId'), wanted['resourceId']):
        return f"a {kind or 'compute'} compute on {props.get('resourceId') or 'another resource'}"
    namespace = inner.get('namespace') or DEFAULT_NAMESPACE
    if namespace != wanted['properties']['namespace']:
        return f"a Kubernetes compute on this cluster with namespace '{namespace}'"
    return 'retry' if str(props.get('provisioningState') or '').lower() == 'failed' else 'same'


def next_steps(ws: WorkspaceRef, compute_name) -> str:
    name = shell_quote(compute_name)
    return (f'Next: submit a job with az ml job create --file <job.yml> {ws.ml_args} (compute: azureml:{compute_name} '
            f'in the YAML), or deploy a model with az ml online-endpoint create --file <endpoint.yml> {ws.ml_args} '
            f'and az ml online-deployment create --file <deployment.yml> --endpoint-name <endpoint> {ws.ml_args} '
            f'(compute: azureml:{compute_name}). See the compute with az ml compute show --name {name} {ws.ml_args}.')


def refuse_other_target(compute_name, what, ws: WorkspaceRef):
    from azure.cli.core.azclierror import ValidationError
    return ValidationError(
        f"The {ws.display} already has a compute '{compute_name}': {what}. amlk8s does not change it.",
        f'Choose another --compute-name, or detach that one first: az amlk8s detach --workspace '
        f'{shell_quote(ws.resource_id)} --compute-name {shell_quote(compute_name)}')


# --- verify --workspace ---------------------------------------------------------------------------------------------

def _finding(level, code, *, title, diagnosis, fix, message=''):
    return {'source': 'compute', 'level': level, 'code': code, 'title': title, 'critical': level == 'error',
            'serviceCode': None, 'message': message, 'diagnosis': diagnosis, 'fix': fix, 'related': []}


def _errors_of(props):
    texts = []
    for item in props.get('provisioningErrors') or []:
        error = (item or {}).get('error') if isinstance(item, dict) else None
        if isinstance(error, dict):
            texts.append(' '.join(f"({error.get('code') or 'Error'}) {error.get('message') or ''}".split()))
    return '; '.join(texts)


def compute_report(computes, ws: WorkspaceRef, cluster_id) -> Tuple[List[dict], List[dict]]:
    """verify's ``computes`` (the workspace's computes on this cluster) and their findings."""
    rows, findings = [], []
    for compute in computes_on(computes, cluster_id):
        props = _props(compute)
        inner = props.get('properties') if isinstance(props.get('properties'), dict) else {}
        name, state = compute.get('name'), props.get('provisioningState')
        kind = props.get('computeType')
        rows.append({'name': name, 'id': compute.get('id'), 'computeType': kind, 'provisioningState': state,
                     'namespace': inner.get('namespace') if kind == KUBERNETES else None})
        quoted = shell_quote(name or '<compute>')
        if str(kind or '').lower() == LEGACY_AKS.lower():
            findings.append(_finding(
                'warning', 'LegacyAksCompute', title='Legacy AKS compute',
                diagnosis=f"Compute '{name}' of the {ws.display} is a legacy AKS (v1) attach of this cluster.",
                fix=f'Detach it (az ml compute detach {ws.ml_args} --name {quoted} --yes) and attach the cluster with '
                'the extension: az amlk8s attach <cluster arguments> --workspace <workspace-id> --compute-name '
                '<name>'))
        elif str(state or '').lower() == 'failed':
            findings.append(_finding(
                'error', 'ComputeFailed', title='Compute target failed',
                diagnosis=f"Compute '{name}' of the {ws.display} ended Failed.",
                fix=f'Fix the error, then detach and attach it again: az amlk8s detach --workspace '
                f'{shell_quote(ws.resource_id)} --compute-name {quoted} --yes; az amlk8s attach <cluster arguments> '
                f'--workspace {shell_quote(ws.resource_id)} --compute-name {quoted}', message=_errors_of(props)))
    return rows, findings
