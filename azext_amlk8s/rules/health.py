# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
# pylint: disable=too-many-lines
"""What `az amlk8s verify` makes of an AzureML extension resource.

Pure functions only: no I/O, no Azure SDK, standard library only. The input is the extension resource as
ARM returns it (``{"name", "id", "properties": {...}}``; the flattened snake_case shape of an SDK model's
``as_dict()`` is accepted too) and the output is plain JSON-able data:

* ``diagnose_text`` maps a service or Helm error text onto the documented causes and fixes (``ERROR_CATALOGUE``);
* ``expected_components`` lists the deployments/daemonsets/statefulsets a configuration should produce;
* ``build_report`` turns the whole resource into the verify report; ``is_healthy`` and ``failure_message``
  read that report for the command's exit status and error message.

Protected values never reach the report: the service does not return ``configurationProtectedSettings``, this
module never reads it, and public settings whose key or value looks secret are dropped.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from azext_amlk8s._constants import EXTENSION_TYPE as AZUREML_EXTENSION_TYPE
from azext_amlk8s._constants import NETWORK_REQUIREMENTS_LINK, TSG_LINK
from azext_amlk8s._text import shell_quote


VERDICT_HEALTHY, VERDICT_IN_PROGRESS, VERDICT_FAILED = 'Healthy', 'InProgress', 'Failed'
VERDICT_DEGRADED, VERDICT_NOT_AZUREML = 'Degraded', 'NotAzureML'
# The extension says Succeeded, but the cluster is offline (Arc) or stopped (AKS): what Azure shows is the agents'
# last report, and nothing in the cluster can be running (stopped) or confirmed (offline).
VERDICT_STALE = 'Stale'
# The extension says Succeeded and nothing read shows a problem, but a part of the cluster the verdict rests on
# (its workloads, pods or health-check report) could not be read or understood: not Healthy, not Degraded.
VERDICT_UNKNOWN = 'Unknown'

IN_PROGRESS_STATES = ('creating', 'updating', 'deleting', 'pending', 'accepted')

MESSAGE_LIMIT = 1500          # characters of service text kept in a finding
SUMMARY_MESSAGE_LIMIT = 300   # characters of service text quoted in failure_message for unrecognised errors


@dataclass(frozen=True)
class Diagnosis:
    """What a finding means and how to fix it."""
    code: str        # our stable id: "E40002", "helm-name-in-use", ..., "unknown"
    title: str       # short constant, e.g. "INSUFFICIENT_NODE"
    diagnosis: str   # what it means
    fix: str         # what to do, commands filled with the context's names
    critical: bool   # must be fixed before the extension can work


@dataclass(frozen=True)
class Context:
    """Names filled into the fixes; an empty field becomes a ``<placeholder>``."""
    resource_group: str = ''
    cluster_name: str = ''
    cluster_type: str = ''
    extension_name: str = ''
    cluster_id: str = ''


@dataclass(frozen=True)
class Rule:  # pylint: disable=too-many-instance-attributes
    """One catalogue entry: when the text matches, it means `diagnosis` and is fixed by `fix`.

    The text matches when any regex of `when` matches and every regex of `also` matches (all case-insensitive).
    A rule is dropped when a rule named in `superseded_by` matched the same text (a generic rule giving way to
    a specific one). `fix` may hold ``{target}``, ``{rg}``, ``{cluster}``, ``{type}``, ``{name}``, ``{cluster_id}``
    and the text-derived ``{conflict}``, ``{conflict_ref}``, ``{release}``, ``{hc_section}``; `cluster_fix`
    adds ("arc" | "aks", sentence) parts used only for that kind of cluster (both when the kind is unknown).
    """
    code: str
    title: str
    when: Tuple[str, ...]
    diagnosis: str
    fix: str
    critical: bool = True
    also: Tuple[str, ...] = ()
    superseded_by: Tuple[str, ...] = ()
    cluster_fix: Tuple[Tuple[str, str], ...] = ()

    def matches(self, text: str) -> bool:
        """True when the text matches this rule (before `superseded_by` is applied)."""
        return (any(_rx(p).search(text) for p in self.when)
                and all(_rx(p).search(text) for p in self.also))

    def render(self, fields: Mapping[str, str]) -> Diagnosis:
        """The Diagnosis with the names in `fields` filled in."""
        fix = self.fix
        kind = fields.get('_kind', '')
        for applies_to, sentence in self.cluster_fix:
            if not kind or kind == applies_to:
                fix = f"{fix} {sentence}"
        return Diagnosis(self.code, self.title, _fill(self.diagnosis, fields), _fill(fix, fields), self.critical)


@lru_cache(maxsize=None)
def _rx(pattern: str) -> 're.Pattern[str]':
    return re.compile(pattern, re.IGNORECASE)


# --- The catalogue ---------------------------------------------------------------------------------------------

def _const(name: str) -> str:
    """A HealthCheck message constant as a regex that also accepts CamelCase and spaced spellings:
    INSUFFICIENT_NODE matches "INSUFFICIENT_NODE", "InsufficientNode" and "Insufficient node"."""
    return r'\b' + r'[_ ]?'.join(re.escape(word) for word in name.split('_')) + r'\b'


_OWNERSHIP = r'invalid ownership metadata|cannot be imported into the current release'
_HC_REPORT = 'kubectl get configmap -n azureml arcml-healthcheck --output="jsonpath={.data.reports-{hc_section}}"'
_LEGACY_FE_CLEANUP = (
    'Detach the legacy v1 (AksCompute) compute first and, if it used TLS, save its certificate '
    '(kubectl get secret/azuremlfessl -n default -o yaml). Then remove the v1 resources: '
    'kubectl delete sa azureml-fe -n default; kubectl delete clusterrole azureml-fe-role; '
    'kubectl delete clusterrolebinding azureml-fe-binding; kubectl delete svc azureml-fe -n default; '
    'kubectl delete svc azureml-fe-int-http -n default; kubectl delete deploy azureml-fe -n default; '
    'kubectl delete secret azuremlfessl -n default; kubectl delete cm azuremlfeconfig -n default; '
    'then run az amlk8s deploy {target} <settings> again.')
_VERSIONS_CMD = ('az k8s-extension extension-types list-versions-by-cluster --resource-group {rg} '
                 '--cluster-name {cluster} --cluster-type {type} --extension-type microsoft.azureml.kubernetes '
                 '--release-train stable')
_KNOWN_E_CODES = ('E40000', 'E40001', 'E40002', 'E40003', 'E40004', 'E40005', 'E40006', 'E40007',
                  'E45001', 'E45002', 'E45003', 'E45004', 'E45005', 'E45006', 'E49999')
_SPECIFIC_OWNERSHIP = ('legacy-azureml-fe-ownership', 'volcano-crd-ownership', 'nvidia-device-plugin-ownership',
                       'prometheus-ownership')

ERROR_CATALOGUE: Tuple[Rule, ...] = (
    # --- HealthCheck codes (arcml-healthcheck report); below E45000 critical, above diagnostic -------------------
    Rule('E40000', 'UNKNOWN_ERROR', (r'(?-i:\bE40000\b)',),
         'The HealthCheck hook hit an error it could not classify.',
         f"Read the HealthCheck logs and report: kubectl logs healthcheck -n azureml; kubectl describe configmap -n "
         f"azureml arcml-healthcheck. See {TSG_LINK}."),
    Rule('E40001', 'LOAD_BALANCER_NOT_SUPPORT',
         (r'(?-i:\bE40001\b)', rf"(?<!internal[_ ])(?<!internal){_const('LOAD_BALANCER_NOT_SUPPORT')}"),
         'The inference router asks for a Service of type LoadBalancer, but the cluster cannot provision load '
         'balancers (most on-premises clusters cannot).',
         'Configure a load balancer for the cluster, or expose the router another way: '
         'az amlk8s update {target} --inference-router-service-type NodePort (or ClusterIP behind your own '
         'ingress).'),
    Rule('E40002', 'INSUFFICIENT_NODE',
         (r'(?-i:\bE40002\b)', _const('INSUFFICIENT_NODE'), _const('INSUFFICIENT_NODES'),
          r"didn'?t match pod anti-affinity rules"),
         'Too few healthy nodes qualify for the extension: inferenceRouterHA (on by default) runs three '
         'azureml-fe replicas on three different nodes, or the nodeSelector matches too few nodes.',
         'On a cluster with fewer than three nodes turn HA off: az amlk8s update {target} '
         '--inference-router-ha false. Otherwise add nodes or correct the nodeSelector '
         '(kubectl get nodes --show-labels).'),
    Rule('E40003', 'INTERNAL_LOAD_BALANCER_NOT_SUPPORT',
         (r'(?-i:\bE40003\b)', _const('INTERNAL_LOAD_BALANCER_NOT_SUPPORT')),
         'internalLoadBalancerProvider is set, but only AKS supports an internal load balancer, and only with '
         'the value azure.',
         'Run az amlk8s deploy {target} <settings> again with your other settings and without '
         '--internal-load-balancer-provider (on AKS its only valid value is azure).'),
    Rule('E40004', 'AZUREML_FE_DEPLOYMENT_NOT_FOUND',
         (r'(?-i:\bE40004\b)', _const('AZUREML_FE_DEPLOYMENT_NOT_FOUND')),
         'The azureml-fe inference router deployment is missing or unavailable.',
         'Check it with kubectl get deployment -n azureml azureml-fe-v2 and '
         'kubectl get events -n azureml --sort-by=.lastTimestamp, then re-apply the extension: '
         'az amlk8s deploy {target} <settings>.'),
    Rule('E40005', 'AZUREML_FE_SCALE_UP_TIMEOUT',
         (r'(?-i:\bE40005\b)', _const('AZUREML_FE_SCALE_UP_TIMEOUT')),
         'The azureml-fe replicas did not become ready in time, usually for lack of CPU, memory or nodes.',
         'Find the Pending pods and why: kubectl get pods -n azureml; '
         'kubectl describe deployment -n azureml azureml-fe-v2. Add capacity, or on fewer than three nodes '
         'turn HA off: az amlk8s update {target} --inference-router-ha false.'),
    Rule('E40006', 'AZUREML_FE_UPDATE_REPLICAS_FAILED',
         (r'(?-i:\bE40006\b)', _const('AZUREML_FE_UPDATE_REPLICAS_FAILED')),
         'HealthCheck could not change the replica count of the azureml-fe deployment.',
         'Inspect the deployment: kubectl describe deployment -n azureml azureml-fe-v2; '
         'kubectl get events -n azureml --sort-by=.lastTimestamp; then retry az amlk8s deploy {target} <settings>.'),
    Rule('E40007', 'INVALID_SSL_SETTING',
         (r'(?-i:\bE40007\b)', _const('INVALID_SSL_SETTING')),
         'The TLS certificate or key is invalid or they do not match, or sslCname is not covered by the '
         'certificate (PEM files protected by a passphrase are not supported).',
         'Check the files: openssl x509 -in cert.pem -noout -text; openssl pkey -in key.pem -noout (no '
         'passphrase prompt); openssl x509 -in cert.pem -noout -pubkey | openssl md5 and '
         'openssl pkey -in key.pem -pubout | openssl md5 must print the same value (RSA and EC keys alike). '
         'Then supply them again: az amlk8s update {target} '
         '--ssl-cert-pem-file <cert.pem> --ssl-key-pem-file <key.pem> --ssl-cname <name-in-the-certificate>. '
         'With sslSecret, the secret in namespace azureml must hold cert.pem and key.pem.'),
    Rule('E45001', 'AGENT_UNHEALTHY',
         (r'(?-i:\bE45001\b)', _const('AGENT_UNHEALTHY')),
         'Some resources of the extension (pods, jobs, deployments, daemonsets or statefulsets) are unhealthy.',
         'Find them and the reason: kubectl get pods -n azureml; kubectl describe pod -n azureml <pod-name>; '
         'kubectl logs healthcheck -n azureml names the unhealthy resources.',
         critical=False),
    Rule('E45002', 'PROMETHEUS_CONFLICT',
         (r'(?-i:\bE45002\b)', _const('PROMETHEUS_CONFLICT')),
         'A Prometheus Operator already in the cluster conflicts with the one the extension installs.',
         f"Reuse yours: az amlk8s update {{target}} --install-prom-op false, make it watch namespace azureml and "
         f"create the prom-kubelet ServiceMonitor with label release: {{name}} (bring-your-own steps: {TSG_LINK}).",
         critical=False),
    Rule('E45003', 'BAD_NETWORK_CONNECTIVITY',
         (r'(?-i:\bE45003\b)', _const('BAD_NETWORK_CONNECTIVITY')),
         'The cluster cannot reach the Azure endpoints the extension needs.',
         f"Allow the outbound endpoints listed at {NETWORK_REQUIREMENTS_LINK}; with private links, check that the "
         "workspace name resolves to a private IP from inside the cluster.",
         critical=False,
         cluster_fix=(('arc', 'On Azure Arc behind a proxy, 127.0.0.1,localhost must be in the proxy skip range: '
                              'az connectedk8s update -g {rg} -n {cluster} --proxy-skip-range '
                              '127.0.0.1,localhost,<your-ranges>.'),)),
    Rule('E45004', 'AZUREML_FE_ROLE_CONFLICT',
         (r'(?-i:\bE45004\b)', _const('AZUREML_FE_ROLE_CONFLICT')),
         'A cluster role azureml-fe-role exists that does not belong to this extension, usually left by the '
         'legacy AKS v1 inference attach.',
         _LEGACY_FE_CLEANUP),
    Rule('E45005', 'AZUREML_FE_DEPLOYMENT_CONFLICT',
         (r'(?-i:\bE45005\b)', _const('AZUREML_FE_DEPLOYMENT_CONFLICT'),
          _const('AZUREML_FE_DEPLOYMENT_CONFICT')),
         'A deployment azureml-fe exists that does not belong to this extension, usually left by the legacy '
         'AKS v1 inference attach.',
         _LEGACY_FE_CLEANUP),
    Rule('E45006', 'INSTANCE_TYPE_INVALID',
         (r'(?-i:\bE45006\b)', r'failed to validate or update instance ?type'),
         'The instance types could not be validated or updated (HealthCheck checker instancetype): an InstanceType '
         'resource is invalid, or the default one was changed by hand.',
         'List them and fix or delete the invalid one: kubectl get instancetype -o yaml; kubectl describe configmap '
         '-n azureml arcml-healthcheck names it. Instance types: https://aka.ms/arcmltsg',
         critical=False),
    Rule('E49999', 'CHECKER_PANIC',
         (r'(?-i:\bE49999\b)', _const('CHECKER_PANIC')),
         'A HealthCheck checker crashed, so its result is unknown.',
         f"Collect kubectl logs healthcheck -n azureml and the arcml-healthcheck report (kubectl describe configmap -n "
         f"azureml arcml-healthcheck) and share them with support ({TSG_LINK}).",
         critical=False),
    Rule('healthcheck-unknown-code', 'HEALTHCHECK_ERROR', (r'(?-i:\bE4\d{4}\b)',),
         'The HealthCheck hook reported an error code that az amlk8s does not know.',
         f"Read the report: kubectl describe configmap -n azureml arcml-healthcheck; kubectl logs healthcheck -n "
         f"azureml. See {TSG_LINK}.",
         superseded_by=_KNOWN_E_CODES),

    # --- platform and service texts --------------------------------------------------------------------------
    Rule('protected-settings-lost', 'PROTECTED_SETTINGS_EXPIRED',
         (r'unable to retain sensitive information', r'sensitive information for more than 48 hours'),
         'The cluster\'s extension agents were offline for more than 48 hours, so the service discarded the '
         'protected settings (TLS key and certificate, relay connection string) and marked the extension Failed.',
         'Restore the cluster\'s connectivity, then apply the extension again with all its settings, including the '
         'protected ones (for example --ssl-cert-pem-file and --ssl-key-pem-file): az amlk8s deploy {target} '
         '<settings>',
         cluster_fix=(('arc', 'On Azure Arc, check the agents first: az connectedk8s show -g {rg} -n {cluster} '
                              '--query connectivityStatus.'),)),

    # --- Helm: objects owned by something else ------------------------------------------------------------------
    Rule('legacy-azureml-fe-ownership', 'LEGACY_AZUREML_FE_CONFLICT',
         (r'"azureml-fe(?:-role|-binding|-int-http)?"', r'\bazuremlfe(?:ssl|config)\b'),
         '{conflict} belongs to the legacy AKS v1 inference attach (azureml-fe), which conflicts with the '
         'inference router of this extension.',
         _LEGACY_FE_CLEANUP,
         also=(_OWNERSHIP,)),
    Rule('volcano-crd-ownership', 'VOLCANO_CONFLICT', (r'volcano',),
         'A Volcano object ({conflict}) already exists and is not owned by this release, typically from your own '
         'Volcano installation or from an earlier install.',
         'If you run your own Volcano, keep it and skip the bundled one: az amlk8s update {target} '
         '--install-volcano false (older versions: --config volcanoScheduler.enable=false), and configure it as '
         'described at ' + TSG_LINK + '. If only AzureML uses it, hand it to this release: '
         'kubectl label {conflict_ref} "app.kubernetes.io/managed-by=Helm" and kubectl annotate {conflict_ref} '
         '"meta.helm.sh/release-namespace=azureml" "meta.helm.sh/release-name={release}" (repeat for each '
         'object Helm names), then retry.',
         also=(_OWNERSHIP,)),
    Rule('nvidia-device-plugin-ownership', 'NVIDIA_DEVICE_PLUGIN_CONFLICT', (r'nvidia-device-plugin',),
         'An NVIDIA device plugin ({conflict}) is already installed in the cluster.',
         'Keep the existing plugin and stop installing another one: az amlk8s update {target} '
         '--install-nvidia-device-plugin false.',
         also=(_OWNERSHIP,)),
    Rule('prometheus-ownership', 'PROMETHEUS_OBJECTS_CONFLICT', (r'monitoring\.coreos\.com', r'prometheus'),
         'Prometheus Operator objects ({conflict}) already exist and are not owned by this release.',
         f"Reuse your Prometheus Operator: az amlk8s update {{target}} --install-prom-op false, make it watch "
         f"namespace azureml and create the prom-kubelet ServiceMonitor with label release: {{name}} (bring-your-own "
         f"steps: {TSG_LINK}).",
         also=(_OWNERSHIP,)),
    Rule('helm-ownership-conflict', 'RESOURCE_CONFLICT', (_OWNERSHIP,),
         '{conflict} already exists in the cluster and is not owned by this release.',
         'Find out what owns it. If only AzureML uses it, hand it to this release: kubectl label {conflict_ref} '
         '"app.kubernetes.io/managed-by=Helm" and kubectl annotate {conflict_ref} '
         '"meta.helm.sh/release-namespace=azureml" "meta.helm.sh/release-name={release}". Otherwise turn off the '
         'component that brings it (for example --install-volcano false, --install-prom-op false or '
         '--install-nvidia-device-plugin false with az amlk8s update {target}), then retry.',
         superseded_by=_SPECIFIC_OWNERSHIP),

    # --- Helm: webhooks -------------------------------------------------------------------------------------------
    Rule('ingress-nginx-webhook', 'INGRESS_NGINX_WEBHOOK_TIMEOUT', (r'azureml-ingress-nginx-controller-admission',),
         'The admission webhook of the extension\'s ingress-nginx controller did not answer in time while the '
         'chart was installing; this happens on busy clusters and when another ingress-nginx already uses the '
         'class k8s.io/ingress-nginx.',
         'Retry: az amlk8s deploy {target} <settings>. If the cluster already runs ingress-nginx, give AzureML its own '
         'class: '
         'az amlk8s update {target} --config nginxIngress.controller=k8s.io/amlarc-ingress-nginx. '
         'kubectl get pods -n azureml shows whether the controller is starting.',
         also=(r'failed (?:calling|to call) webhook',)),
    Rule('admission-webhook', 'ADMISSION_WEBHOOK_FAILED', (r'failed (?:calling|to call) webhook',),
         'An admission webhook in the cluster did not answer while Helm created the extension\'s resources.',
         'List the webhooks with kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations; make '
         'sure the service behind the failing one has ready endpoints or remove a stale one, then retry '
         'az amlk8s deploy {target} <settings>.',
         superseded_by=('ingress-nginx-webhook',)),

    # --- Helm: release state ----------------------------------------------------------------------------------
    Rule('helm-name-in-use', 'RELEASE_NAME_IN_USE',
         (r"can(?:not|'?t| not) re-?use a name that is still in use",),
         'Helm already has a release with this name: an earlier AzureML install still being cleaned up, or '
         'another chart.',
         'List the releases with helm list -Aa. If {name} belongs to another chart, use another extension name '
         '(-n). If it is an earlier AzureML install, wait about an hour and retry az amlk8s deploy {target} '
         '<settings>, or '
         'remove it first with az amlk8s delete {target} --yes and deploy again.'),
    Rule('helm-operation-in-progress', 'OPERATION_IN_PROGRESS',
         (r'earlier operation for the helm chart is still in progress',
          r'another operation \(install/upgrade/rollback\) is in progress'),
         'An earlier Helm install, upgrade or rollback of this release has not finished.',
         'Wait about an hour and retry az amlk8s deploy {target} <settings>. helm history -n azureml {name} shows the '
         'release; if a revision stays pending-install, pending-upgrade or pending-rollback, delete that revision '
         '(kubectl delete secret -n azureml sh.helm.release.v1.{name}.v<revision> --ignore-not-found) and retry.'),
    Rule('namespace-terminating', 'NAMESPACE_TERMINATING', (r'being terminated',),
         'The azureml namespace is still being deleted by an earlier uninstall, so nothing can be created in it.',
         'Wait for the delete to finish (az amlk8s wait {target} --deleted; kubectl get namespace azureml returns '
         'NotFound when it is done), then run az amlk8s deploy {target} <settings> again. Do not install or update '
         'while a '
         'delete runs.'),
    Rule('chart-not-found', 'CHART_NOT_FOUND',
         (r'chart path not found', r'failed in download(?:ing)? the chart'),
         'The requested chart version does not exist, usually a --version that does not exist or does not belong '
         'to the --release-train.',
         f"Omit --version to get the latest, or pick a version listed by {_VERSIONS_CMD}, then run az amlk8s deploy "
         f"{{target}} <settings> again."),
    Rule('kubernetes-version', 'KUBERNETES_API_NOT_SERVED', (r'no matches for kind',),
         'The chart uses a Kubernetes API that this cluster does not serve: the Kubernetes version is outside '
         'the supported window (N-2 of AKS), or the pinned extension version is too old for it.',
         f"Check kubectl version; use a supported Kubernetes version and an extension version that supports it (omit "
         f"--version, or pick one from {_VERSIONS_CMD}).",
         cluster_fix=(('aks', 'On AKS: az aks get-upgrades -g {rg} -n {cluster}, then '
                              'az aks upgrade -g {rg} -n {cluster} --kubernetes-version <version>.'),)),
    Rule('provider-not-registered', 'PROVIDER_NOT_REGISTERED',
         (r'MissingSubscriptionRegistration', r'not registered to use namespace', r'extensionaddons/read'),
         'A resource provider the extension needs is not registered in the subscription.',
         'az provider register --namespace Microsoft.KubernetesConfiguration --wait, then retry '
         'az amlk8s deploy {target} <settings>.',
         cluster_fix=(('arc', 'On Azure Arc also: az provider register --namespace Microsoft.Kubernetes --wait; '
                              'az provider register --namespace Microsoft.ExtendedLocation --wait.'),)),
    Rule('invalid-authentication-token', 'CLUSTER_IDENTITY_UNSUPPORTED',
         (r"'puid' or 'altsecid' or 'oid'", r'InvalidAuthenticationToken'),
         'The service could not act on the cluster with its token; known causes are an AKS cluster that uses a '
         'service principal instead of a managed identity, disabled local accounts, or Azure AD/RBAC settings.',
         'Check the cluster: az aks show -g {rg} -n {cluster} --query "[identity.type, disableLocalAccounts]". '
         'AzureML needs a managed identity (az aks update -g {rg} -n {cluster} --enable-managed-identity, then '
         'recreate the node pools) and local accounts (az aks update -g {rg} -n {cluster} --enable-local-accounts) '
         'unless AKS Trusted Access is set up for the workspace.'),
    Rule('relay-missing', 'RELAY_NOT_CONFIGURED', (r'relay resource id or connection string are not provided',),
         'The extension has no Azure Relay settings, so AzureML cannot reach the Arc cluster.',
         'Run az amlk8s deploy {target} <settings> again; it creates or reuses the Azure Relay in resource group '
         '{rg}.'),
    Rule('not-connectable', 'EXTENSION_NOT_CONNECTABLE', (r'not connectable',),
         'AzureML could not reach the extension in the cluster.',
         'Detach and attach the compute again (az amlk8s detach, then az amlk8s attach), and check that '
         'every pod is Running: kubectl get pods -n azureml.',
         cluster_fix=(('arc', 'On Azure Arc, the relayserver pods must be Running and the Azure Relay in resource '
                              'group {rg} must not be modified or deleted.'),)),
    Rule('training-not-enabled', 'TRAINING_NOT_ENABLED', (r'does not support job type',),
         'Training jobs need enableTraining=true on the extension.',
         'az amlk8s update {target} --enable-training true'),

    Rule('insufficient-resources', 'INSUFFICIENT_RESOURCES',
         (r'\bInsufficient (?:cpu|memory|ephemeral-storage|pods|nvidia\.com/gpu)\b', r'\btoo many pods\b'),
         'Pods of the extension cannot be scheduled: the nodes lack free CPU, memory, GPUs or pod slots.',
         'kubectl describe nodes shows allocatable and requested resources and kubectl get pods -n azureml the '
         'Pending pods. Add nodes or bigger nodes, or point nodeSelector at nodes with room, then retry '
         'az amlk8s deploy {target} <settings>.',
         cluster_fix=(('aks', 'On AKS: az aks nodepool scale -g {rg} --cluster-name {cluster} -n <nodepool> '
                              '--node-count <count>.'),)),

    # --- generic, least specific ------------------------------------------------------------------------------
    Rule('healthcheck-failed', 'HEALTHCHECK_FAILED',
         (r'health ?check (?:pod )?failed', r'hooks? failed[^.]{0,80}healthcheck'),
         'The HealthCheck hook that runs before every install, upgrade, rollback and delete found a blocking '
         'problem in the cluster.',
         f"Read the HealthCheck report: {_HC_REPORT} (or kubectl describe configmap -n azureml arcml-healthcheck) and "
         "fix the E4xxxx codes it lists; kubectl logs healthcheck -n azureml has the details."),
    Rule('helm-timeout', 'INSTALL_TIMED_OUT',
         (r'timed out waiting for the condition', r'status not populated', r'unable to get the status from the '
                                                                           r'local crd'),
         'The release did not become ready in time (about 15 minutes): usually too little CPU, memory or nodes, '
         'a LoadBalancer service that never got an address, or cluster agents that could not report status.',
         'Look for Pending or failing pods and their reasons: kubectl get pods -n azureml; '
         'kubectl get events -n azureml --sort-by=.lastTimestamp; kubectl get svc -n azureml (an EXTERNAL-IP '
         'stuck at <pending> means no load balancer: use --inference-router-service-type NodePort); read the '
         'HealthCheck report with kubectl describe configmap -n azureml arcml-healthcheck; then retry '
         'az amlk8s deploy {target} <settings>.',
         cluster_fix=(('arc', 'On Azure Arc, upgrade the cluster agents: az connectedk8s upgrade -g {rg} '
                              '-n {cluster}.'),)),
)

UNKNOWN_CODE = 'unknown'


# --- Small helpers ---------------------------------------------------------------------------------------------

_CLUSTER_TYPES = {
    'managedclusters': 'managedClusters', 'aks': 'managedClusters',
    'connectedclusters': 'connectedClusters', 'arc': 'connectedClusters',
    'appliances': 'appliances', 'provisionedclusters': 'provisionedClusters',
}


def canonical_cluster_type(cluster_type: Any) -> str:
    """``aks``/``managedclusters`` -> ``managedClusters``, ``arc``/``connectedclusters`` -> ``connectedClusters``."""
    text = _str(cluster_type).strip()
    return _CLUSTER_TYPES.get(text.lower(), text)


def _cluster_kind(cluster_type: Any) -> str:
    """"aks", "arc" (any Arc-style type) or "" when unknown."""
    canonical = canonical_cluster_type(cluster_type)
    if not canonical:
        return ''
    return 'aks' if canonical == 'managedClusters' else 'arc'


def _str(value: Any) -> str:
    if value is None:
        return ''
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    return ''


def _parse_bool(value: Any) -> Optional[bool]:
    """Settings booleans: True/"True"/"true" and False/"False"/"false" (any case); anything else is None."""
    if isinstance(value, bool):
        return value
    return {'true': True, 'false': False}.get(_str(value).strip().lower())


def _truthy(value: Any, default: bool) -> bool:
    """The boolean a setting holds, or `default` when it is missing or not a boolean."""
    parsed = _parse_bool(value)
    return default if parsed is None else parsed


def _setting(settings: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first key present (newest spelling first), else None."""
    for key in keys:
        if key in settings and settings[key] is not None:
            return settings[key]
    return None


_FIELD = re.compile(r'\{(\w+)\}')


def _fill(template: str, fields: Mapping[str, str]) -> str:
    """Replace known ``{field}``s in one pass (other braces, e.g. jsonpath, stay as they are)."""
    return _FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), template)


_SAFE_TOKEN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$')


def _safe_token(value: str) -> str:
    """A name taken from service text, only if it is a plain Kubernetes-style name (keeps commands copy-safe)."""
    return value if _SAFE_TOKEN.match(value or '') else ''


_CONFLICT = re.compile(r'(?P<kind>[A-Za-z]+) "(?P<name>[^"]+)" in namespace "(?P<ns>[^"]*)" exists and cannot be '
                       r'imported')
_RELEASE = re.compile(r'meta\.helm\.sh/release-name"?: must be set to "(?P<release>[^"]+)"')
_KUBECTL_KIND = {'customresourcedefinition': 'crd', 'serviceaccount': 'sa', 'service': 'svc', 'configmap': 'cm'}


def _text_fields(text: str) -> Dict[str, str]:
    """Names the Helm text itself gives: the conflicting object, the expected release, the HealthCheck phase."""
    fields = {'conflict': 'An existing object', 'conflict_ref': '<kind> <name>', 'hc_section': _hc_section(text)}
    found = _CONFLICT.search(text)
    kind, name, namespace = (found.group('kind'), found.group('name'), found.group('ns')) if found else ('', '', '')
    if _safe_token(kind) and _safe_token(name):
        fields['conflict'] = f'{kind} "{name}"'
        fields['conflict_ref'] = f'{_KUBECTL_KIND.get(kind.lower(), kind.lower())} {name}'
        if _safe_token(namespace):
            fields['conflict_ref'] += f" -n {namespace}"
    elif _rx('volcano').search(text):
        fields['conflict'] = 'CustomResourceDefinition "jobs.batch.volcano.sh"'
        fields['conflict_ref'] = 'crd jobs.batch.volcano.sh'
    release = _RELEASE.search(text)
    if release and _safe_token(release.group('release')):
        fields['release'] = release.group('release')
    return fields


def _hc_section(text: str) -> str:
    """The arcml-healthcheck report section a Helm text points at."""
    lowered = text.lower()
    if 'pre-upgrade' in lowered or 'upgrade failed' in lowered:
        return 'pre-upgrade'
    if 'pre-rollback' in lowered or 'rollback failed' in lowered:
        return 'pre-rollback'
    if 'pre-delete' in lowered or ('uninstall' in lowered and 'atomic' not in lowered):
        return 'pre-delete'
    return 'pre-install'


def _context_fields(ctx: Optional[Context]) -> Dict[str, str]:
    ctx = ctx if isinstance(ctx, Context) else Context()
    rg = _str(ctx.resource_group).strip() or '<resource-group>'
    cluster = _str(ctx.cluster_name).strip() or '<cluster-name>'
    cluster_type = canonical_cluster_type(ctx.cluster_type) or '<cluster-type>'
    name = _str(ctx.extension_name).strip() or '<extension-name>'
    rg, cluster, name = shell_quote(rg), shell_quote(cluster), shell_quote(name)
    return {'rg': rg, 'cluster': cluster, 'type': cluster_type, 'name': name, 'release': name,
            'cluster_id': shell_quote(_str(ctx.cluster_id).strip() or '<cluster-resource-id>'),
            'target': f'-g {rg} -c {cluster} -t {cluster_type} -n {name}',
            'cluster_args': f'-g {rg} -c {cluster} -t {cluster_type}',
            '_kind': _cluster_kind(ctx.cluster_type)}


# --- Diagnosis of texts ----------------------------------------------------------------------------------------

def innermost_cause(text: str) -> str:
    """The innermost cause in ARM's error text, in each of its service eras: 2021 ``... for release [azureml]: err
    [<cause>]} occurred ...``, 2022 ``Helm installation ... failed with the following error: err [<cause>]}``, 2024
    nested ``InnerError [... InnerError [<cause>]]``. The text itself when it has no such wrapper."""
    current = text if isinstance(text, str) else ''
    for _ in range(8):
        found = list(re.finditer(r'(?:InnerError\s*:?\s*|\berr\s*)\[', current))
        if not found:
            break
        start = found[-1].end()
        depth, end = 1, start
        while end < len(current) and depth:
            depth += {'[': 1, ']': -1}.get(current[end], 0)
            end += 1
        inner = current[start:end - 1 if depth == 0 else end].strip(' :')
        if not inner or inner == current:
            break
        current = inner
    return current.strip()


def diagnose_code(code: str, message: str, ctx: Optional[Context] = None) -> Diagnosis:
    """A health-check entry's diagnosis by its code, never by its message (real messages differ from the docs and
    carry typos): the catalogue rule of that code, else the code with its own message."""
    code = _str(code).strip()
    for rule in ERROR_CATALOGUE:
        if rule.code == code:
            return rule.render(_context_fields(ctx))
    fields = _context_fields(ctx)
    said = _trim(_one_line(_str(message)), 300) or '(no message)'
    return Diagnosis(code or UNKNOWN_CODE, 'HEALTHCHECK_' + (_safe_token(code).upper() or 'FAILED'),
                     f"The health check reports {code or 'a failure'}: {said}", _fill(_UNKNOWN_FIX, fields), True)


def diagnose_text(text: str, ctx: Optional[Context] = None) -> List[Diagnosis]:
    """Every catalogue rule the text matches, most specific first (catalogue order); [] when none does. The
    innermost cause of a wrapped ARM error is matched first: the wrappers name generic steps, the cause names the
    fix."""
    if not isinstance(text, str) or not text.strip():
        return []
    inner = innermost_cause(text)
    if inner and inner != text.strip():
        found = diagnose_text(inner, ctx)
        if found and not all(d.code == 'E40000' for d in found):
            fields = _context_fields(ctx)
            fields.update(_text_fields(text))
            return [rule.render(fields) for rule in ERROR_CATALOGUE if rule.code in {d.code for d in found}]
    matched = [rule for rule in ERROR_CATALOGUE if rule.matches(text)]
    codes = {rule.code for rule in matched}
    matched = [rule for rule in matched if not codes.intersection(rule.superseded_by)]
    if not matched:
        return []
    fields = _context_fields(ctx)
    fields.update(_text_fields(text))
    return [rule.render(fields) for rule in matched]


_UNKNOWN_FIX = (f"See {TSG_LINK} and check the cluster: kubectl get pods -n azureml; kubectl get events -n azureml "
                "--sort-by=.lastTimestamp; kubectl describe configmap -n azureml arcml-healthcheck; "
                "helm list -a -n azureml; helm history -n azureml {name}.")


def unknown_diagnosis(ctx: Optional[Context] = None) -> Diagnosis:
    """What to tell the user about an error text no rule recognises."""
    return Diagnosis(UNKNOWN_CODE, 'UNRECOGNISED_ERROR',
                     'az amlk8s does not recognise this error; the service text is shown as it came.',
                     _fill(_UNKNOWN_FIX, _context_fields(ctx)), True)


def diagnose_error(text: str, ctx: Optional[Context] = None) -> List[Diagnosis]:
    """`diagnose_text`, but never empty: an unrecognised text gives the ``unknown`` diagnosis."""
    return diagnose_text(text, ctx) or [unknown_diagnosis(ctx)]


# --- Components ------------------------------------------------------------------------------------------------

def expected_components(settings: Mapping[str, Any], cluster_type: str, extension_name: str) -> List[dict]:
    """The deployments, daemonsets and statefulsets the settings should produce in namespace azureml.

    Each entry is ``{"name", "kind", "reason"}`` (the azureml-fe-v2 entry adds ``"replicas"``); ``reason`` names
    the setting that brings the component, ``connectedClusters`` for the Arc relay, or ``always``.
    """
    settings = settings if isinstance(settings, Mapping) else {}
    ext = _str(extension_name).strip() or 'azureml'
    kind = _cluster_kind(cluster_type)
    components = [_component('gateway', 'deployment', 'always'),
                  _component('metrics-controller-manager', 'deployment', 'always'),
                  _component(f'{ext}-kube-state-metrics', 'deployment', 'always'),
                  _component('prometheus-prom-prometheus', 'statefulset', 'always')]
    if _truthy(settings.get('installPromOp'), True) and not _truthy(settings.get('reuseExistingPromOp'), False):
        components.append(_component(f'{ext}-prometheus-operator', 'deployment', 'installPromOp'))
    relay = _parse_bool(settings.get('relayserver.enabled'))
    if relay or (relay is None and kind == 'arc'):
        components.append(_component('relayserver', 'deployment',
                                     'connectedClusters' if relay is None else 'relayserver.enabled'))
    if _truthy(settings.get('enableTraining'), False):
        components.append(_component('aml-operator', 'deployment', 'enableTraining'))
        if _truthy(settings.get('installVolcano'), True) and _truthy(settings.get('volcanoScheduler.enable'), True):
            components.extend(_component(name, 'deployment', 'installVolcano')
                              for name in ('volcano-admission', 'volcano-controllers', 'volcano-scheduler'))
    if _truthy(settings.get('enableInference'), False):
        components.append(dict(_component('azureml-fe-v2', 'deployment', 'enableInference'),
                               replicas=3 if _router_ha(settings) else 1))
        components.extend(_component(name, 'deployment', 'enableInference')
                          for name in ('inference-operator-controller-manager', 'amlarc-identity-controller',
                                       'amlarc-identity-proxy'))
        # az k8s-extension sets nginxIngress.enabled=true on AKS and false elsewhere; absent, assume the same.
        if _truthy(settings.get('nginxIngress.enabled'), kind == 'aks'):
            components.append(_component('azureml-ingress-nginx-controller', 'deployment', 'nginxIngress.enabled'))
    if _truthy(settings.get('installDcgmExporter'), False):
        components.append(_component(f'{ext}-dcgm-exporter', 'daemonset', 'installDcgmExporter'))
    if _truthy(settings.get('installNvidiaDevicePlugin'), False):
        components.append(_component('nvidia-device-plugin-daemonset', 'daemonset', 'installNvidiaDevicePlugin'))
    return components


def _component(name: str, kind: str, reason: str) -> dict:
    return {'name': name, 'kind': kind, 'reason': reason}


def _router_ha(settings: Mapping[str, Any]) -> bool:
    """inferenceRouterHA, or its pre-1.2.2 name inferenceLoadBalancerHA; HA is the default."""
    return _truthy(_setting(settings, 'inferenceRouterHA', 'inferenceLoadBalancerHA', 'inferenceLoadbalancerHA'),
                   True)


# --- The report ------------------------------------------------------------------------------------------------

_SECRET_KEY = re.compile(r'connection_?string|ssl_?key|ssl_?cert|password|passwd|secret|token|credential|'
                         r'shared_?access|account_?key|private_?key|sas_?key|api_?key', re.IGNORECASE)
_NOT_SECRET_KEYS = frozenset({'sslSecret', 'scoringFe.sslSecret'})   # names of Kubernetes secrets, not secrets
_SECRET_VALUE = re.compile(r'-----BEGIN|SharedAccessKey=|AccountKey=|SharedAccessSignature=', re.IGNORECASE)


def is_secret_setting(key: str, value: Any = None) -> bool:
    """True for settings never to echo: secret-looking keys (except the secret *names*) and secret-looking values."""
    if key not in _NOT_SECRET_KEYS and _SECRET_KEY.search(key):
        return True
    return isinstance(value, str) and bool(_SECRET_VALUE.search(value))


def public_settings(settings: Any) -> Dict[str, Any]:
    """configurationSettings fit to show: scalar values only, secret-looking entries dropped, keys sorted."""
    if not isinstance(settings, Mapping):
        return {}
    return {key: settings[key] for key in sorted(k for k in settings if isinstance(k, str))
            if (settings[key] is None or isinstance(settings[key], (str, bool, int, float)))
            and not is_secret_setting(key, settings[key])}


_REDACTIONS = (
    (re.compile(r'-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|$)', re.DOTALL), '[redacted]'),
    (re.compile(r'(?P<k>SharedAccessKey|AccountKey|SharedAccessSignature|password|pwd|sig)=[^;\s"\',]+',
                re.IGNORECASE), r'\g<k>=[redacted]'),
)


def redact_line(text: str, limit: int = 240) -> str:
    """One log line fit to print: keys, connection-string secrets, PEM blocks and bearer tokens removed, trimmed."""
    text = _redact(_str(text))
    text = re.sub(r'(?i)(bearer\s+|token["\s:=]+)[A-Za-z0-9._~+/=-]{16,}', r'\1[redacted]', text)
    text = re.sub(r'[A-Za-z0-9+/_-]{40,}={0,2}', '[redacted]', text)
    return _trim(_one_line(text), limit)


def redact_text(text: str) -> str:
    """A whole text (a log, a configmap value) with what redact_line removes taken out, its lines kept."""
    text = _redact(_str(text))
    text = re.sub(r'(?i)(bearer\s+|token["\s:=]+)[A-Za-z0-9._~+/=-]{16,}', r'\1[redacted]', text)
    text = re.sub(r'(?i)((?:client[_-]?secret|api[_-]?key|access[_-]?key|secret)["\s:=]+)[^\s"\',;]{8,}',
                  r'\1[redacted]', text)
    return re.sub(r'[A-Za-z0-9+/_-]{40,}={0,2}', '[redacted]', text)


def _redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit - 3].rstrip()}..."


def _one_line(text: str) -> str:
    return ' '.join(text.split())


def _get(mapping: Mapping[str, Any], camel: str) -> Any:
    """A property in ARM camelCase, or in the snake_case of an SDK model's as_dict()."""
    if camel in mapping:
        return mapping[camel]
    return mapping.get(re.sub(r'(?<!^)([A-Z])', r'_\1', camel).lower())


def _split_body(extension: Any) -> Tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(extension, Mapping):
        return {}, {}
    props = extension.get('properties')
    if isinstance(props, Mapping):
        return extension, props
    return extension, extension   # flattened (as_dict) shape, or properties missing/null


_EXTENSION_ID = re.compile(r'^(?P<cluster>/subscriptions/[^/]+/resourceGroups/(?P<rg>[^/]+)/providers/[^/]+/'
                           r'(?P<type>[^/]+)/(?P<name>[^/]+))/providers/Microsoft\.KubernetesConfiguration/'
                           r'extensions/(?P<ext>[^/]+)$', re.IGNORECASE)


def _complete_context(ctx: Optional[Context], body: Mapping[str, Any], settings: Mapping[str, Any]) -> Context:
    """The caller's names, with gaps filled from the extension's id, name and clusterId setting."""
    ctx = ctx if isinstance(ctx, Context) else Context()
    parsed = _EXTENSION_ID.match(_str(body.get('id')).strip())
    derived = parsed.groupdict() if parsed else {}
    return Context(
        resource_group=_str(ctx.resource_group).strip() or derived.get('rg', ''),
        cluster_name=_str(ctx.cluster_name).strip() or derived.get('name', ''),
        cluster_type=_str(ctx.cluster_type).strip() or derived.get('type', ''),
        extension_name=(_str(ctx.extension_name).strip() or _str(body.get('name')).strip()
                        or derived.get('ext', '')),
        cluster_id=(_str(ctx.cluster_id).strip() or derived.get('cluster', '')
                    or _str(settings.get('clusterId')).strip()),
    )


def make_finding(source: str, level: str, diagnoses: Sequence[Diagnosis], message: str, *,
                 service_code: str = '') -> dict:
    """One finding: the first diagnosis is the main one, the others are listed under `related`."""
    diag, related = diagnoses[0], diagnoses[1:]
    return {
        'source': source,
        'level': level,
        'code': diag.code,
        'title': diag.title,
        'critical': diag.critical,
        'serviceCode': service_code or None,
        'message': _trim(_redact(message), MESSAGE_LIMIT),
        'diagnosis': diag.diagnosis,
        'fix': diag.fix,
        'related': [{'code': d.code, 'title': d.title, 'diagnosis': d.diagnosis, 'fix': d.fix} for d in related],
    }


def _error_finding(source: str, level: str, error: Mapping[str, Any], ctx: Context) -> Optional[dict]:
    """A finding for an errorInfo or a status: its code and message diagnosed, the message kept verbatim."""
    code = _str(error.get('code')).strip()
    message = _str(error.get('message')).strip() or _str(_get(error, 'displayStatus')).strip()
    if not code and not message:
        return None
    diagnoses = diagnose_error(f'{code} {message}'.strip(), ctx)
    return make_finding(source, level, diagnoses, message or code, service_code=code)


def _status_level(level: Any) -> str:
    text = _str(level).strip().lower()
    if text.startswith('err'):
        return 'error'
    return 'warning' if text.startswith('warn') else 'info'


def _service_findings(props: Mapping[str, Any], ctx: Context, state: str) -> List[dict]:
    """errorInfo and every Error/Warning status, diagnosed; a status with an earlier finding's diagnosis is merged
    into it."""
    sources = []
    error_info = _get(props, 'errorInfo')
    if isinstance(error_info, Mapping):
        # A stale errorInfo on a Succeeded extension is reported, but does not fail the verify.
        sources.append(('errorInfo', 'info' if state == 'succeeded' else 'error', error_info))
    statuses = _get(props, 'statuses')
    for index, status in enumerate(statuses if isinstance(statuses, list) else []):
        if isinstance(status, Mapping) and _status_level(_get(status, 'level')) != 'info':
            sources.append((f'statuses[{index}]', _status_level(_get(status, 'level')), status))
    findings, by_key = [], {}
    for source, level, error in sources:
        finding = _error_finding(source, level, error, ctx)
        if not finding:
            continue
        # One finding per diagnosis (errorInfo and a status often carry the same failure); unrecognised errors
        # are shown verbatim, so only the same text merges them.
        key = ('text', _one_line(finding['message']).lower()) if finding['code'] in _VERBATIM_CODES else \
            ('code', finding['code'])
        if key not in by_key:
            by_key[key] = len(findings)
            findings.append(finding)
            continue
        kept = findings[by_key[key]]
        # the more severe of the two (the first on a tie), with the related diagnoses of both
        first, second = (finding, kept) if _LEVEL_RANK[level] > _LEVEL_RANK[kept['level']] else (kept, finding)
        codes = {first['code']} | {r['code'] for r in first['related']}
        extra = [r for r in second['related'] if r['code'] not in codes]
        findings[by_key[key]] = dict(first, related=first['related'] + extra)
    return findings


_LEVEL_RANK = {'info': 0, 'warning': 1, 'error': 2}
_VERBATIM_CODES = (UNKNOWN_CODE, 'healthcheck-unknown-code')


def _state_finding(state_text: str, verdict: str, fields: Mapping[str, str]) -> Optional[dict]:
    state = state_text.lower()
    if verdict == VERDICT_IN_PROGRESS:
        if state == 'deleting':
            fix = ('The extension is being deleted: az amlk8s wait {target} --deleted, then az amlk8s deploy '
                   '{target} <settings> to install it again.')
        else:
            flag = '--updated' if state == 'updating' else '--created'
            fix = (f"Wait for it: az amlk8s verify {{target}} --wait (or az amlk8s wait {{target}} {flag}). It can "
                   "stay Pending for the first few minutes; kubectl get pods -n azureml shows the progress.")
        diag = Diagnosis('in-progress', 'IN_PROGRESS',
                         f'An operation on the extension is still running (provisioningState {state_text}).',
                         _fill(fix, fields), False)
        return make_finding('provisioningState', 'warning', [diag], f"provisioningState: {state_text}")
    if verdict == VERDICT_FAILED:
        diag = Diagnosis(UNKNOWN_CODE, 'FAILED_WITHOUT_DETAILS',
                         'The extension is not Succeeded and the service gave no error details.',
                         _fill(_UNKNOWN_FIX, fields), True)
        return make_finding('provisioningState', 'error', [diag],
                            f"provisioningState: {state_text or '(not reported)'}")
    return None


_DEPRECATED_KEYS = (('inferenceLoadBalancerHA', 'inferenceRouterHA'), ('inferenceLoadbalancerHA', 'inferenceRouterHA'),
                    ('privateEndpointNodeport', 'inferenceRouterServiceType=nodePort'),
                    ('privateEndpointILB', 'internalLoadBalancerProvider=azure'),
                    ('reuseExistingPromOp', 'installPromOp=false'), ('volcanoScheduler.enable', 'installVolcano'))
_SERVICE_TYPE_FIX = 'az amlk8s update {target} --inference-router-service-type LoadBalancer (or NodePort, ClusterIP).'
_NO_ILB_FIX = ('Run az amlk8s deploy {target} <settings> again, with your settings but without '
               '--internal-load-balancer-provider.')


def _settings_findings(settings: Mapping[str, Any], kind: str, fields: Mapping[str, str]) -> List[dict]:
    """Settings that look inconsistent with the documented rules (they never change the verdict by themselves).

    Each check gives (code, level, message, diagnosis, fix); the message quotes the settings involved.
    """
    checks = []
    training, inference = _str(settings.get('enableTraining')), _str(settings.get('enableInference'))
    if not _truthy(training, False) and not _truthy(inference, False):
        checks.append(('settings-no-workload', 'warning',
                       f'enableTraining={training or "(unset)"} enableInference={inference or "(unset)"}',
                       'Neither training nor inference is enabled, so the extension cannot run AzureML workloads.',
                       'az amlk8s update {target} --enable-training true (and/or --enable-inference true).'))
    if _truthy(inference, False):
        checks.extend(_inference_checks(settings, kind))
    for old, new in _DEPRECATED_KEYS:
        if old in settings:
            checks.append(('settings-deprecated-key', 'info', f'{old}={_str(settings[old])}',
                           f'{old} is an old setting; the current one is {new}.',
                           f'Use {new} in future deploy and update commands.'))
    return [make_finding('configurationSettings', level,
                         [Diagnosis(code, 'SETTINGS_CHECK', diagnosis, _fill(fix, fields), False)], message)
            for code, level, message, diagnosis, fix in checks]


def _inference_checks(settings: Mapping[str, Any], kind: str) -> List[Tuple[str, str, str, str, str]]:
    checks = []
    service_type = _str(settings.get('inferenceRouterServiceType')).strip()
    derived_type = (_truthy(settings.get('scoringFe.serviceType.nodePort'), False)
                    or _truthy(settings.get('scoringFe.serviceType.internalLoadBalancer'), False))
    if service_type.lower() not in ('loadbalancer', 'nodeport', 'clusterip') and (service_type or not derived_type):
        checks.append(('settings-router-service-type', 'warning',
                       f'inferenceRouterServiceType={service_type or "(unset)"}',
                       'Inference needs inferenceRouterServiceType set to LoadBalancer, NodePort or ClusterIP.',
                       _SERVICE_TYPE_FIX))
    ilb = _str(settings.get('internalLoadBalancerProvider')).strip()
    if ilb and kind == 'arc':
        checks.append(('settings-internal-lb-not-aks', 'warning', f'internalLoadBalancerProvider={ilb}',
                       'internalLoadBalancerProvider only works on AKS; HealthCheck rejects it elsewhere (E40003).',
                       _NO_ILB_FIX))
    elif ilb and ilb.lower() != 'azure':
        checks.append(('settings-internal-lb-value', 'warning', f'internalLoadBalancerProvider={ilb}',
                       'The only supported internalLoadBalancerProvider is azure.',
                       'az amlk8s update {target} --internal-load-balancer-provider azure'))
    if ilb and service_type.lower() == 'nodeport':
        checks.append(('settings-internal-lb-with-nodeport', 'warning',
                       f'inferenceRouterServiceType={service_type} internalLoadBalancerProvider={ilb}',
                       'internalLoadBalancerProvider cannot be combined with a NodePort router.', _NO_ILB_FIX))
    if _truthy(settings.get('allowInsecureConnections'), False):
        checks.append(('settings-insecure-http', 'info',
                       f'allowInsecureConnections={_str(settings.get("allowInsecureConnections"))}',
                       'Inference endpoints use plain HTTP, which the documentation recommends only for development '
                       'and test (or behind your own TLS-terminating ingress).',
                       'For HTTPS: az amlk8s update {target} --allow-insecure-connections false --ssl-cname <fqdn> '
                       'with --ssl-secret <kubernetes-secret> or --ssl-cert-pem-file <cert.pem> --ssl-key-pem-file '
                       '<key.pem>.'))
        return checks
    ssl_secret = _str(settings.get('sslSecret')).strip()
    if not _str(settings.get('sslCname')).strip():
        # PEM files are protected and invisible, but az k8s-extension and az amlk8s always pair HTTPS with sslCname.
        checks.append(('settings-https-without-cname', 'warning', 'sslCname is not set',
                       'HTTPS is on (allowInsecureConnections is not true) but sslCname is not set, so the TLS setup '
                       'is incomplete (the extension was probably created without az amlk8s or az k8s-extension).',
                       'az amlk8s update {target} --ssl-cname <fqdn-in-the-certificate>, with --ssl-secret '
                       '<kubernetes-secret> or --ssl-cert-pem-file <cert.pem> --ssl-key-pem-file <key.pem> if the '
                       'TLS material is missing too.'))
    if ssl_secret and not _str(settings.get('scoringFe.sslSecret')).strip():
        checks.append(('settings-ssl-secret-not-derived', 'warning',
                       f'sslSecret={ssl_secret}, scoringFe.sslSecret is not set',
                       'sslSecret is set but scoringFe.sslSecret, the key the chart reads, is missing (the CLI '
                       'derives it; ARM templates and Terraform do not), so the router finds no certificate.',
                       f"az amlk8s update {{target}} --ssl-secret {_safe_token(ssl_secret) or '<kubernetes-secret>'} "
                       "(it sets both keys)."))
    return checks


def _endpoint(settings: Mapping[str, Any]) -> dict:
    service_type = _str(settings.get('inferenceRouterServiceType')).strip()
    if not service_type and _truthy(settings.get('scoringFe.serviceType.nodePort'), False):
        service_type = 'nodePort'
    internal = (_str(settings.get('internalLoadBalancerProvider')).strip().lower() == 'azure'
                or _truthy(settings.get('scoringFe.serviceType.internalLoadBalancer'), False))
    return {
        'serviceType': service_type or None,
        'https': not _truthy(settings.get('allowInsecureConnections'), False),
        'sslCname': _str(settings.get('sslCname')).strip() or None,
        'internalLoadBalancer': internal,
        'routerHA': _router_ha(settings),
    }


def _verdict(ext_type: str, state: str, findings: Sequence[dict]) -> str:
    if ext_type and ext_type.lower() != AZUREML_EXTENSION_TYPE.lower():
        return VERDICT_NOT_AZUREML
    if any(f['code'] in _STALE_CODES for f in findings):
        return VERDICT_STALE
    if state == 'succeeded':
        troubled = any(f['level'] != 'info' and f['source'].startswith(_VERDICT_SOURCES) for f in findings)
        if troubled:
            return VERDICT_DEGRADED
        return VERDICT_UNKNOWN if any(f['source'] == 'read' for f in findings) else VERDICT_HEALTHY
    if state in IN_PROGRESS_STATES:
        return VERDICT_IN_PROGRESS
    return VERDICT_FAILED   # Failed, Canceled, anything unknown, or no state at all


_STALE_CODES = ('cluster-offline', 'cluster-stopped')
# Findings that make a Succeeded extension Degraded: the service's statuses, the cluster resource, and what the
# cluster's Kubernetes API shows (its workloads and pods, and the arcml-healthcheck report).
_VERDICT_SOURCES = ('statuses', 'cluster', 'kubernetes', 'healthcheck')


def _days_since(timestamp: str, now: Optional[float]) -> Optional[float]:
    import datetime
    import time
    text = _str(timestamp).strip()
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(re.sub(r'(\.\d{6})\d*', r'\1', text.replace('Z', '+00:00')))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, ((now if now is not None else time.time()) - moment.timestamp()) / 86400.0)


def cluster_findings(cluster: Optional[Mapping], others: Sequence[str], fields: Mapping[str, str],
                     now: Optional[float] = None) -> List[dict]:
    """What the cluster resource says about trusting the extension's state: an Arc cluster not Connected, a stopped
    or failed AKS cluster, and other AzureML extensions on the same cluster (only one is supported)."""
    found = []
    props = cluster.get('properties') if isinstance(cluster, Mapping) else None
    props = props if isinstance(props, Mapping) else {}
    kind = fields['_kind']
    connectivity = _str(props.get('connectivityStatus')).strip()
    if kind == 'arc' and connectivity and connectivity.lower() != 'connected':
        days = _days_since(props.get('lastConnectivityTime'), now)
        since = (f" since {_str(props.get('lastConnectivityTime'))} ({days:.0f} day{'s' if round(days) != 1 else ''})"
                 if days is not None else '')
        fix = ('Bring the Arc agents back online (kubectl get pods -n azure-arc; check their outbound access), then '
               'run az amlk8s verify {target} again: az connectedk8s show -g {rg} -n {cluster} --query '
               'connectivityStatus must say Connected.')
        if connectivity.lower() == 'expired':
            fix = ('The agents\' certificate expired: reconnect the cluster (az connectedk8s delete -g {rg} -n '
                   '{cluster}, then az connectedk8s connect -g {rg} -n {cluster}) and deploy the extension again.')
        found.append(make_finding('cluster', 'error', [Diagnosis(
            'cluster-offline', 'CLUSTER_NOT_CONNECTED',
            f'The Azure Arc-enabled cluster is {connectivity}{since}: the extension\'s state in Azure is the agents\' '
            'last report and cannot be trusted; after 48 hours offline extensions turn Failed.',
            _fill(fix, fields), True)], f'connectivityStatus: {connectivity}'))
    power = _str(_get(props, 'powerState').get('code') if isinstance(_get(props, 'powerState'), Mapping)
                 else '').strip()
    if kind == 'aks' and power.lower() == 'stopped':
        found.append(make_finding('cluster', 'error', [Diagnosis(
            'cluster-stopped', 'CLUSTER_STOPPED',
            'The AKS cluster is stopped: none of the extension\'s components runs, whatever its provisioningState.',
            _fill('Start it: az aks start -g {rg} -n {cluster}, then run az amlk8s verify {target} again.', fields),
            True)], 'powerState: Stopped'))
    state = _str(props.get('provisioningState')).strip()
    if state and state.lower() not in ('succeeded',) and props:
        found.append(make_finding('cluster', 'warning', [Diagnosis(
            'cluster-state', 'CLUSTER_NOT_SUCCEEDED',
            f'The cluster resource is in provisioning state {state}.',
            _fill('See the cluster\'s error: az resource show --ids {cluster_id} --query properties', fields),
            False)], f'cluster provisioningState: {state}'))
    for other in others:
        found.append(make_finding('cluster', 'error', [Diagnosis(
            'duplicate-extension', 'MORE_THAN_ONE_AZUREML_EXTENSION',
            f'The cluster also has the AzureML extension {other!r}: only one is supported, and two conflict over the '
            'same components in namespace azureml.',
            _fill('Keep one and delete the other: az amlk8s delete -g {rg} -c {cluster} -t {type} -n ', fields)
            + f'{shell_quote(other)} --yes', True)], f'another AzureML extension: {other}'))
    return found


def build_report(extension: Mapping, ctx: Context,  # pylint: disable=too-many-locals
                 cluster: Optional[Mapping] = None, others: Sequence[str] = (), now: Optional[float] = None, *,
                 in_cluster: Optional[Tuple[Mapping, Sequence[dict]]] = None) -> dict:
    """The verify report for one extension resource (a plain, JSON-able dict with a stable key order).

    ``cluster`` (the cluster resource as ARM returns it) and ``others`` (names of other AzureML extensions on the
    cluster) add the findings of ``cluster_findings``; without them the verdict rests on the extension alone, and the
    report says so (``clusterRead``). ``in_cluster`` is (the ``inCluster`` section, its findings) from the
    cluster's Kubernetes API (running.after_report); its findings count for the verdict like the service's
    statuses."""
    body, props = _split_body(extension)
    settings = _get(props, 'configurationSettings')
    settings = settings if isinstance(settings, Mapping) else {}
    ctx = _complete_context(ctx, body, settings)
    fields = _context_fields(ctx)
    ext_type = _str(_get(props, 'extensionType')).strip()
    state_text = _str(_get(props, 'provisioningState')).strip()
    azureml = not ext_type or ext_type.lower() == AZUREML_EXTENSION_TYPE.lower()
    if not azureml:
        settings = {}   # not ours: don't interpret (or echo) another extension's settings

    findings = _service_findings(props, ctx, state_text.lower()) if azureml else []
    if azureml and (cluster is not None or others):
        findings = cluster_findings(cluster, others, fields, now) + findings
    section, seen = in_cluster if in_cluster is not None else (None, ())
    if azureml:
        findings = findings + list(seen)
    verdict = _verdict(ext_type, state_text.lower(), findings)
    if verdict == VERDICT_NOT_AZUREML:
        findings.append(make_finding('extensionType', 'error', [Diagnosis(
            'not-azureml', 'NOT_AZUREML_EXTENSION',
            f'Extension {fields["name"]} is of type {ext_type}, not {AZUREML_EXTENSION_TYPE}.',
            _fill('Find the AzureML extension on this cluster with az amlk8s list -g {rg} -c {cluster} -t {type} and '
                  'pass its name with -n.', fields), True)], f"extensionType: {ext_type}"))
    else:
        state_finding = _state_finding(state_text, verdict, fields)
        if state_finding and (verdict == VERDICT_IN_PROGRESS or not any(f['level'] == 'error' for f in findings)):
            findings.insert(0, state_finding)
        findings.extend(_settings_findings(settings, fields['_kind'], fields))

    inference = _truthy(settings.get('enableInference'), False)
    auto_upgrade = _get(props, 'autoUpgradeMinorVersion')
    return {
        'name': ctx.extension_name or None,
        'clusterId': ctx.cluster_id or None,
        'extensionType': ext_type or None,
        'provisioningState': state_text or None,
        'verdict': verdict,
        'version': _str(_get(props, 'currentVersion') or _get(props, 'version')).strip() or None,
        'releaseTrain': _str(_get(props, 'releaseTrain')).strip() or None,
        'autoUpgradeMinorVersion': auto_upgrade if isinstance(auto_upgrade, bool) else None,
        'workloads': {'training': _truthy(settings.get('enableTraining'), False), 'inference': inference},
        'endpoint': _endpoint(settings) if inference else None,
        'configurationSettings': public_settings(settings),
        'components': expected_components(settings, ctx.cluster_type, ctx.extension_name) if azureml else [],
        'clusterRead': cluster is not None,
        'inCluster': dict(section) if section is not None else {
            'read': False, 'status': 'skipped', 'reason': "the cluster's Kubernetes API was not read"},
        'findings': findings,
        'nextSteps': _next_steps(verdict, state_text.lower(), findings, fields, inference),
    }


def _report_sections(verdict: str, state: str, findings: Sequence[dict]) -> List[str]:
    """The arcml-healthcheck sections worth reading: install -> pre-install, pre-delete; update -> pre-upgrade,
    pre-rollback; delete -> pre-delete; a working extension -> test (after helm test)."""
    if verdict in (VERDICT_HEALTHY, VERDICT_DEGRADED):
        return ['test']
    if verdict == VERDICT_IN_PROGRESS:
        return {'updating': ['pre-upgrade'], 'deleting': ['pre-delete']}.get(state, ['pre-install'])
    texts = ' '.join(f['message'] for f in findings).lower()
    if 'upgrade' in texts or 'rollback' in texts or 'updating the extension' in texts:
        return ['pre-upgrade', 'pre-rollback']
    if 'pre-delete' in texts or 'deleting the extension' in texts:
        return ['pre-delete']
    return ['pre-install', 'pre-delete']


def _next_steps(verdict: str, state: str, findings: Sequence[dict], fields: Mapping[str, str],
                inference: bool) -> List[str]:
    """In-cluster checks for every verdict, plus what to do next for this one (names filled in)."""
    kind = fields['_kind']
    steps = []
    if kind in ('aks', ''):
        steps.append('Get kubectl access to an AKS cluster: az aks get-credentials --resource-group {rg} '
                     '--name {cluster}')
    if kind in ('arc', ''):
        steps.append('Get kubectl access to an Azure Arc cluster (keep it running in another terminal): '
                     'az connectedk8s proxy --resource-group {rg} --name {cluster}')
    steps += ['Check that every pod is Running: kubectl get pods -n azureml',
              'Read the HealthCheck report: kubectl describe configmap -n azureml arcml-healthcheck']
    sections = _report_sections(verdict, state, findings)
    if sections == ['test']:
        steps.append('Run the built-in health test: helm test -n azureml {name} --logs')
    steps += [f"Read the report's {section} section: kubectl get configmap -n azureml arcml-healthcheck "
              f'--output="jsonpath={{.data.reports-{section}}}"' for section in sections]
    steps.append('See recent events: kubectl get events -n azureml --sort-by=.lastTimestamp')
    steps += {
        VERDICT_FAILED: ['Check the Helm release: helm list -a -n azureml; helm history -n azureml {name}',
                         f"Troubleshooting guide: {TSG_LINK}"],
        VERDICT_DEGRADED: ['Check the Helm release: helm list -a -n azureml; helm history -n azureml {name}',
                           f"Troubleshooting guide: {TSG_LINK}"],
        VERDICT_IN_PROGRESS: ['Wait for the operation to finish: az amlk8s verify {target} --wait'],
        VERDICT_UNKNOWN: ['Give read access to what the findings name, then verify again: az amlk8s verify {target}'],
        VERDICT_STALE: ['Bring the cluster back as the findings say, then verify again: az amlk8s verify {target}'],
        VERDICT_NOT_AZUREML: ['List the AzureML extensions on this cluster: az amlk8s list -g {rg} -c {cluster} '
                              '-t {type}'],
    }.get(verdict, [])
    if verdict == VERDICT_HEALTHY:
        if inference:
            steps.append('Find the inference router address (point sslCname at it in DNS): '
                         'kubectl get svc azureml-fe -n azureml')
        steps.append('Create the namespace for AzureML workloads if needed: kubectl create namespace <namespace>')
        steps.append('Attach the cluster to a workspace: az amlk8s attach {cluster_args} --workspace '
                     '<workspace-resource-id> --compute-name <compute-name> --namespace <namespace> (it checks the '
                     "workspace's subscription, the namespace and the extension first)")
        if kind == 'aks':
            steps.append('The workspace must be in the same subscription as this AKS cluster; for another '
                         'subscription, connect the cluster to Azure Arc first.')
    if kind in ('arc', '') and verdict != VERDICT_NOT_AZUREML:
        steps.append('On Azure Arc, AzureML reaches the cluster through the Azure Relay in resource group {rg}; '
                     'modifying or deleting it breaks attached computes.')
    return [_fill(step, fields) for step in steps]


# --- Reading a report ------------------------------------------------------------------------------------------

def is_healthy(report: Any) -> bool:
    """True only for a Healthy verdict: Succeeded, and no error or warning status."""
    return isinstance(report, Mapping) and report.get('verdict') == VERDICT_HEALTHY


def failure_message(report: Any) -> str:
    """One paragraph for the CLI error: the verdict, then each error and warning finding with its fix."""
    report = report if isinstance(report, Mapping) else {}
    verdict = _str(report.get('verdict')) or 'unknown'
    parts = [f"Extension '{_str(report.get('name')) or '(unnamed)'}' is {verdict} "
             f"(provisioningState: {_str(report.get('provisioningState')) or 'not reported'})."]
    findings = [f for f in report.get('findings') or [] if isinstance(f, Mapping)]
    failing = [f for f in findings if f.get('level') == 'error'] + [f for f in findings if f.get('level') == 'warning']
    for index, finding in enumerate(failing, 1):
        text = (f"{index}) [{_str(finding.get('source'))}] {_str(finding.get('code'))} {_str(finding.get('title'))}: "
                f"{_str(finding.get('diagnosis'))}")
        if finding.get('code') == UNKNOWN_CODE and finding.get('message'):
            text += f' Service message: "{_trim(_str(finding.get("message")), SUMMARY_MESSAGE_LIMIT)}".'
        text += f" Fix: {_str(finding.get('fix'))}"
        for related in finding.get('related') or []:
            if isinstance(related, Mapping):
                text += f" Also {_str(related.get('code'))} {_str(related.get('title'))}: {_str(related.get('fix'))}"
        parts.append(text)
    if verdict != VERDICT_HEALTHY:
        parts.append(f'Troubleshooting: {TSG_LINK}.')
    return _one_line(' '.join(parts))
