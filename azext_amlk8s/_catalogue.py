# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The catalogue of the AzureML extension's settings, as data. Standard library only.

Each documented setting (azureml-extension.md section 3: the settings table, the protected settings, the extra chart
values Microsoft documents elsewhere, the renamed and removed keys) is written here once. The settings rules
(``settings.py``) read it, and so does ``_params.py``: every typed flag (``--enable-training``, ``--ssl-cname``, ...) is
generated from the key that carries it, so a flag's name, type, aliases and help live only here.
"""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

BOOL = 'bool'
ENUM = 'enum'
HOSTNAME = 'hostname'
K8S_NAME = 'k8s-name'
PATH = 'path'
RESOURCE_ID = 'resource-id'
TEXT = 'text'


@dataclass(frozen=True)
class Key:  # pylint: disable=too-many-instance-attributes
    name: str
    kind: str
    flag: Optional[str] = None              # the typed flag that sets it
    choices: Tuple[str, ...] = ()           # canonical spellings for ENUM
    protected: Optional[bool] = None        # True: must be protected; False: must be public; None: either
    inference_only: bool = False
    doc: str = ''
    aliases: Tuple[str, ...] = ()           # shorter options of the typed flag
    help: str = ''                          # the typed flag's help

    @property
    def param(self) -> Optional[str]:
        """The handler parameter of the typed flag (``--enable-training`` -> ``enable_training``)."""
        return self.flag[2:].replace('-', '_') if self.flag else None


CATALOGUE: Dict[str, Key] = {k.name: k for k in (
    Key('enableTraining', BOOL, '--enable-training', protected=False,
        doc='Training and batch inference support.',
        help='Support training and batch inference (enableTraining).'),
    Key('enableInference', BOOL, '--enable-inference', protected=False, doc='Real-time inference support.',
        help='Support real-time inference endpoints (enableInference).'),
    Key('allowInsecureConnections', BOOL, '--allow-insecure-connections', protected=False, inference_only=True,
        doc='Serve inference over HTTP (development and test only).', aliases=('--allow-insecure',),
        help='Serve inference over plain HTTP, for development and test only (allowInsecureConnections). HTTPS is the '
             'default.'),
    Key('inferenceRouterServiceType', ENUM, '--inference-router-service-type',
        choices=('LoadBalancer', 'NodePort', 'ClusterIP'), protected=False, inference_only=True,
        doc='How the inference router (azureml-fe) is exposed.', aliases=('--router-service-type',),
        help='How the inference router is exposed (inferenceRouterServiceType). Required with inference. Most '
             'on-premises clusters cannot provision a LoadBalancer.'),
    Key('internalLoadBalancerProvider', ENUM, '--internal-load-balancer-provider', choices=('azure',),
        protected=False, inference_only=True, doc='Use an internal Azure load balancer (AKS only).',
        aliases=('--ilb-provider',),
        help='Expose the inference router on an internal Azure load balancer (internalLoadBalancerProvider). AKS '
             'only.'),
    Key('sslSecret', K8S_NAME, '--ssl-secret', protected=False, inference_only=True,
        doc='Kubernetes secret in namespace azureml holding cert.pem and key.pem.',
        help='A Kubernetes secret in namespace azureml holding cert.pem and key.pem (sslSecret). Alternative to the '
             'PEM files.'),
    Key('sslCname', HOSTNAME, '--ssl-cname', protected=False, inference_only=True,
        doc='The CNAME (FQDN) of the HTTPS inference endpoint.',
        help='The DNS name (CNAME) of the HTTPS inference endpoint (sslCname); the certificate must cover it.'),
    Key('sslCertPemFile', PATH, '--ssl-cert-pem-file', inference_only=True,
        doc='Local path of the PEM certificate (chain); its content is sent, protected, never the path.',
        help='Path of the PEM certificate (full chain, server certificate first); `@path` works too. Checked locally; '
             'its content is sent protected, never the path.'),
    Key('sslKeyPemFile', PATH, '--ssl-key-pem-file', inference_only=True,
        doc='Local path of the PEM private key; its content is sent, protected, never the path.',
        help='Path of the PEM private key, without passphrase; `@path` works too. Checked locally; its content is sent '
             'protected, never the path.'),
    Key('inferenceRouterHA', BOOL, '--inference-router-ha', protected=False, inference_only=True,
        doc='Three inference router replicas (needs 3 nodes).',
        help='Run three inference router replicas (inferenceRouterHA). Needs at least three nodes; turned off '
             'automatically on smaller clusters unless set.'),
    Key('installNvidiaDevicePlugin', BOOL, '--install-nvidia-device-plugin', protected=False,
        aliases=('--install-nvidia',),
        help='Install the NVIDIA device plugin (installNvidiaDevicePlugin). Default: false.'),
    Key('installPromOp', BOOL, '--install-prom-op', protected=False,
        help='Install the Prometheus operator (installPromOp). Default: true; false reuses an existing one.'),
    Key('installVolcano', BOOL, '--install-volcano', protected=False,
        help='Install the Volcano scheduler for training (installVolcano). Default: true; false reuses an existing '
             'one.'),
    Key('installDcgmExporter', BOOL, '--install-dcgm-exporter', protected=False, aliases=('--install-dcgm',),
        help='Install the DCGM exporter for GPU metrics (installDcgmExporter). Default: false.'),
    Key('clusterPurpose', ENUM, choices=('DevTest', 'FastProd'), protected=False),
    Key('relayserver.hybridConnectionResourceID', RESOURCE_ID, protected=False,
        doc='Bring-your-own Azure Relay hybrid connection (Arc).'),
    Key('relayServerConnectionString', TEXT, protected=True,
        doc='Connection string of the bring-your-own Azure Relay hybrid connection (Arc).'),
    Key('relayserver.relayConnectionString', TEXT, protected=True,
        doc='The chart\'s key for the relay connection string (az k8s-extension derives it from '
            'relayServerConnectionString); accepted as that setting.'),
    Key('isAKSMigration', BOOL, protected=False),
    Key('openshift', BOOL, protected=False),
    # Keys derived from the cluster; a user may still set them.
    Key('domain', TEXT, protected=False),
    Key('location', TEXT, protected=False),
    Key('jobSchedulerLocation', TEXT, protected=False),
    Key('cluster_name', TEXT, protected=False),
    Key('cluster_name_friendly', TEXT, protected=False),
    Key('clusterId', TEXT, protected=False),
    Key('servicebus.enabled', BOOL, protected=False),
    Key('relayserver.enabled', BOOL, protected=False),
    Key('nginxIngress.enabled', BOOL, protected=False),
    # Chart values documented by Microsoft outside the main table (passed through, listed for "did you mean").
    Key('nginxIngress.controller', TEXT, protected=False),
    Key('volcanoScheduler.schedulerConfigMap', K8S_NAME, protected=False),
    Key('volcanoScheduler.enable', BOOL, protected=False),
    Key('amloperator.skipResourceValidation', BOOL, protected=False),
    Key('scoringFe.enableUpgrade', BOOL, protected=False),
    Key('amloperator.custom_ip_interface_enabled', BOOL, protected=False),
    Key('amloperator.custom_ip_interface', TEXT, protected=False),
    Key('enable_https', BOOL, protected=False),
)}

# Settings whose values are secrets: refused in public settings (they would show in `az amlk8s show`).
SECRET_KEYS = ('relayServerConnectionString', 'relayserver.relayConnectionString', 'scoringFe.sslCert',
               'scoringFe.sslKey', 'azure_log_analytics.connection_string', 'serviceBusConnectionString',
               'servicebus.connectionString')

NODE_SELECTOR_PREFIX = 'nodeSelector.'

# Settings a renamed key implies, when the user did not set them: privateEndpointILB=true meant "inference behind
# an internal load balancer" (AML-Kubernetes docs/deploy-extension.md, 2021), i.e. a LoadBalancer router service type
# with the internal provider.
IMPLIED_BY_RENAMED = {'privateEndpointILB': {'inferenceRouterServiceType': 'LoadBalancer'}}

# Old spellings: old key -> (new key, value translation or None to keep the value, note)
RENAMED = {
    'inferenceLoadBalancerHA': ('inferenceRouterHA', None, 'renamed in k8s-extension 1.2.2'),
    'inferenceLoadbalancerHA': ('inferenceRouterHA', None, 'renamed in k8s-extension 1.2.2'),
    'InferenceRouterHA': ('inferenceRouterHA', None, 'a misspelling in older documentation'),
    'privateEndpointNodeport': ('inferenceRouterServiceType', {'true': 'NodePort'}, 'removed in 2021'),
    'privateEndpointILB': ('internalLoadBalancerProvider', {'true': 'azure'}, 'removed in 2021'),
    'reuseExistingPromOp': ('installPromOp', {'true': 'false', 'false': 'true'}, 'removed'),
    'sslCertKeyFile': ('sslKeyPemFile', None, 'a misspelling in the AML-Kubernetes documentation'),
    'slKeyPemFile': ('sslKeyPemFile', None, 'a misspelling in the secure-endpoint documentation'),
    'sslCertPemFIle': ('sslCertPemFile', None, 'a misspelling in the secure-endpoint documentation'),
    'sslKeyPemFIle': ('sslKeyPemFile', None, 'a misspelling in the secure-endpoint documentation'),
}
# Removed settings that no longer do anything: dropped with a warning.
REMOVED = ('installBlobfuseSysctl', 'installBlobfuseFlexvol', 'volumePluginDir')
# Settings amlk8s refuses, with the reason.
UNSUPPORTED = {
    'logAnalyticsWS': 'amlk8s does not create Log Analytics workspaces (the setting is no longer documented). '
                      'Remove logAnalyticsWS; system logs are collected by the extension itself.',
}

# The typed flags, as (parameter name, setting key). nodeSelector is handled apart.
TYPED_FLAGS = tuple((k.flag[2:].replace('-', '_'), k.name) for k in CATALOGUE.values() if k.flag)
