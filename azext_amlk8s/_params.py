# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
# pylint: disable=line-too-long

from azure.cli.core.commands.parameters import get_enum_type, get_three_state_flag

from azext_amlk8s import _completers
from azext_amlk8s._catalogue import BOOL, CATALOGUE, ENUM
from azext_amlk8s._validators import (KeyValueAction, cluster_or_ids, validate_export, validate_resource_names,
                                      validate_rollout)

CLUSTER_TYPES = ['managedClusters', 'connectedClusters', 'aks', 'arc']

TRAINING = 'Training and inference'
TLS = 'Inference HTTPS'
SETTINGS = 'Configuration'
VERSION = 'Version'
COMPAT = 'Compatibility with az k8s-extension'
MANY = 'Many clusters'
FLEET_COMMANDS = ('amlk8s check', 'amlk8s verify', 'amlk8s show', 'amlk8s deploy', 'amlk8s update', 'amlk8s delete',
                  'amlk8s attach')
WORKSPACE = 'Workspace'
CLUSTER_API = 'Cluster API'
EXPORT = 'Infrastructure as code'
WORKSPACE_HELP = ('The resource id of an Azure Machine Learning workspace: `/subscriptions/<subscription-id>/'
                  'resourceGroups/<resource-group>/providers/Microsoft.MachineLearningServices/workspaces/'
                  '<workspace>`. check and deploy also check what attaching the cluster to it needs; verify '
                  'also reports its compute targets on this cluster.')


def load_arguments(loader, _):
    with loader.argument_context('amlk8s') as c:
        c.argument('resource_group_name', options_list=['--resource-group', '-g'],
                   help="The cluster's resource group. You can configure the default group using `az configure "
                        "--defaults group=<name>`.")
        c.argument('cluster_name', options_list=['--cluster-name', '-c'], validator=validate_resource_names,
                   completer=_completers.cluster_names, help='The name of the AKS or Azure Arc-enabled Kubernetes '
                                                             'cluster.')
        c.argument('cluster_type', options_list=['--cluster-type', '-t'], arg_type=get_enum_type(CLUSTER_TYPES),
                   help='The cluster type: managedClusters (AKS) or connectedClusters (Azure Arc-enabled Kubernetes); '
                        'aks and arc are aliases.')
        c.argument('extension_name', options_list=['--name', '-n'], completer=_completers.extension_names,
                   help='The name of the AzureML extension.')

    for scope in ('amlk8s deploy', 'amlk8s check', 'amlk8s update'):
        with loader.argument_context(scope) as c:
            _settings_arguments(c)

    _many_clusters_arguments(loader)

    for scope in ('amlk8s deploy', 'amlk8s check'):
        with loader.argument_context(scope) as c:
            c.argument('ignore_checks', options_list=['--ignore-check'], nargs='+', completer=_completers.check_ids,
                       help='Proceed although the named blocking prerequisite check fails (space-separated check ids, '
                            'as shown by az amlk8s check). The report still shows it, marked ignored. For experts who '
                            'know why the check does not apply.')

    for scope in ('amlk8s deploy', 'amlk8s check', 'amlk8s verify', 'amlk8s attach'):
        with loader.argument_context(scope) as c:
            c.argument('kube_config', options_list=['--kube-config', '--kubeconfig'], arg_group=CLUSTER_API,
                       help="A kubeconfig for the cluster's Kubernetes API server, read-only. Default on AKS: the "
                            'cluster user credentials from Azure, kept in memory; on Azure Arc the in-cluster checks '
                            'are unknown without it (use the one `az connectedk8s proxy` writes).')
            c.argument('kube_context', arg_group=CLUSTER_API,
                       help="The context of --kube-config to use. Default: the kubeconfig's current context.")
            c.argument('arm_only', arg_type=get_three_state_flag(), arg_group=CLUSTER_API,
                       help="Read only Azure Resource Manager: no request to the cluster's Kubernetes API; the "
                            'in-cluster checks are reported skipped.')

    _workspace_arguments(loader)

    with loader.argument_context('amlk8s deploy') as c:
        # Extras, like the settings arguments: they reach the handler in **settings_args.
        c.extra('workspace', arg_group=WORKSPACE, help=WORKSPACE_HELP)
        c.extra('create_trusted_access', arg_group=WORKSPACE, action='store_true',
                help='With --workspace, on AKS with local accounts disabled: create the missing Trusted Access '
                     'binding (role Microsoft.MachineLearningServices/workspaces/mlworkload) for the workspace, '
                     'after confirmation.')
        c.extra('yes', options_list=['--yes', '-y'], action='store_true',
                help='Do not prompt for confirmation (of the binding --create-trusted-access creates).')
        c.argument('dry_run', action='store_true',
                   help='Run every check and print the extension resource that would be sent, with protected values '
                        'hidden; write nothing.')

    with loader.argument_context('amlk8s update') as c:
        c.argument('yes', options_list=['--yes', '-y'], action='store_true',
                   help='Do not prompt for confirmation of disruptive changes.')

    with loader.argument_context('amlk8s delete') as c:
        c.argument('yes', options_list=['--yes', '-y'], action='store_true', help='Do not prompt for confirmation.')
        c.argument('force', action='store_true',
                   help='Delete the extension resource in Azure even if the cluster cannot confirm the uninstall '
                        '(forceDelete=true). Components may stay in the cluster.')
        c.argument('cleanup', action='store_true',
                   help='Also delete the Azure resources made for this extension (the Azure Relay of an Arc cluster '
                        'that amlk8s or az k8s-extension tagged). Without it they are listed, not removed.')

    with loader.argument_context('amlk8s verify') as c:
        c.ignore('live_args')       # verify's **live_args: --grace and --fail-fast arrive there
        c.argument('collect', arg_group='Support bundle',
                   help='Also write a support bundle, redacted: a .zip file, or a directory (with --ids, a directory '
                        'with one archive per cluster). It holds the report, the extension and cluster resources, and '
                        'from the cluster (read-only) its workloads, events, the health-check report, nodes, instance '
                        'types, the Helm release metadata and the logs of pods that are not ready or restarted; '
                        'manifest.json says what was read and what could not be. Secrets are never collected.')
        c.argument('collect_max_mb', type=int, arg_group='Support bundle',
                   help='With --collect, the most the bundle may hold, in MB. Default: 50.')
        c.argument('wait', action='store_true',
                   help='Wait for the extension to reach a terminal state (Succeeded or Failed), showing progress, '
                        'before reporting.')
        c.argument('timeout', type=int, help='With --wait, the maximum time to wait in seconds. Default: 1800.')

    with loader.argument_context('amlk8s deploy') as c:
        # Extras: they reach deploy's handler in **settings_args.
        c.extra('export', arg_type=get_enum_type(['arm', 'bicep', 'terraform', 'policy']), arg_group=EXPORT,
                validator=validate_export,
                help='Run every check, write nothing to Azure, and give the checked extension as an ARM template, a '
                     'Bicep file, Terraform (azurerm) or an Azure Policy definition (deployIfNotExists). Protected '
                     'values become secure parameters or sensitive variables, never values.')
        c.extra('export_file', arg_group=EXPORT, help='With --export, write the file here instead of to stdout.')

    for scope in ('amlk8s deploy', 'amlk8s verify'):
        with loader.argument_context(scope) as c:
            # Extras: they reach deploy's handler in **settings_args and verify's in **live_args.
            c.extra('grace', type=int, arg_group=CLUSTER_API,
                    help='While waiting, a release pod that has been Pending, ImagePullBackOff or CrashLoopBackOff for '
                         'this many seconds is diagnosed at once (the cluster is read every 5 s). Default: 120.')
            c.extra('fail_fast', action='store_true', arg_group=CLUSTER_API,
                    help='Stop waiting at that diagnosis and exit 1; the extension keeps installing in Azure.')

    with loader.argument_context('amlk8s wait') as c:
        group = 'Wait Condition'
        c.argument('created', action='store_true', arg_group=group,
                   help="Wait until the extension exists with provisioningState 'Succeeded'.")
        c.argument('updated', action='store_true', arg_group=group,
                   help="Wait until provisioningState is 'Succeeded'.")
        c.argument('deleted', action='store_true', arg_group=group, help='Wait until the extension is deleted.')
        c.argument('exists', action='store_true', arg_group=group, help='Wait until the extension exists.')
        c.argument('custom', arg_group=group,
                   help="Wait until this JMESPath query on the extension (as az amlk8s show prints it) is true, for "
                        "example \"provisioningState=='Succeeded'\".")
        c.argument('interval', type=int, arg_group=group, help='Polling interval in seconds.')
        c.argument('timeout', type=int, arg_group=group,
                   help='Maximum wait in seconds; the command fails (exit code 1) when it runs out.')


def _workspace_arguments(loader):
    """The arguments of the workspace hand-off: attach, detach, and --workspace of check and verify (deploy's are
    extras, registered with its other arguments)."""
    for scope in ('amlk8s verify', 'amlk8s attach', 'amlk8s detach'):
        with loader.argument_context(scope) as c:
            c.argument('workspace', arg_group=WORKSPACE, help=WORKSPACE_HELP)
    with loader.argument_context('amlk8s check') as c:
        c.extra('workspace', arg_group=WORKSPACE, help=WORKSPACE_HELP)    # reaches the handler in **settings_args

    for scope in ('amlk8s attach', 'amlk8s detach'):
        with loader.argument_context(scope) as c:
            c.argument('compute_name', arg_group=WORKSPACE,
                       help='The name of the compute target in the workspace (2 to 24 letters, digits and hyphens, '
                            'starting with a letter).')

    with loader.argument_context('amlk8s attach') as c:
        c.argument('export', arg_type=get_enum_type(['arm', 'bicep', 'terraform']), arg_group=EXPORT,
                   validator=validate_export,
                   help='Run every check, send nothing, and give the compute target as an ARM template, a Bicep file '
                        'or Terraform (azapi_resource: the azurerm provider has none for it).')
        c.argument('export_file', arg_group=EXPORT, help='With --export, write the file here instead of to stdout.')
        c.argument('namespace', arg_group=WORKSPACE,
                   help='The Kubernetes namespace the workspace runs jobs and endpoints in; it must already exist.')
        c.argument('identity_type', arg_type=get_enum_type(['SystemAssigned', 'UserAssigned']), arg_group=WORKSPACE,
                   help="The compute's managed identity.")
        c.argument('user_assigned_identity', arg_group=WORKSPACE,
                   help='With --identity-type UserAssigned: the resource id of the user-assigned identity. It needs '
                        'Reader, Kubernetes Extension Contributor and Azure Kubernetes Service Cluster Admin on the '
                        'cluster (and Azure Relay Owner on an Azure Arc cluster).')

    with loader.argument_context('amlk8s detach') as c:
        c.argument('yes', options_list=['--yes', '-y'], action='store_true', help='Do not prompt for confirmation.')
        c.argument('resource_group_name', options_list=['--resource-group', '-g'], required=False,
                   help='With --cluster-name and --cluster-type: detach only if the compute is on this cluster.')


# Settings arguments that are not typed flags, as (dest, options, extra keyword arguments, help).
_HIDDEN = {'hide': True}


def _settings_arguments(c):
    """The settings arguments of deploy, check and update: the az k8s-extension forms, the version arguments, and one
    typed flag per documented setting, generated from the catalogue (``_catalogue.CATALOGUE``). They reach the
    handlers as keyword arguments (``**settings_args``), which ``request.py`` turns into one request value."""
    c.ignore('settings_args')       # the handlers' **settings_args: these extras arrive there
    c.extra('configuration_settings',
            options_list=['--config', '--configuration-settings',
                          c.deprecate(target='--config-settings', redirect='--config', **_HIDDEN)],
            nargs='+', action=KeyValueAction, arg_group=SETTINGS,
            help='Configuration settings as space-separated KEY=VALUE pairs, as az k8s-extension takes them, for '
                 'example enableTraining=True. Repeatable. `KEY=@file` reads the value from a file.')
    c.extra('configuration_protected_settings',
            options_list=['--config-protected', '--config-protected-settings',
                          c.deprecate(target='--configuration-protected-settings', redirect='--config-protected',
                                      **_HIDDEN)],
            nargs='+', action=KeyValueAction, arg_group=SETTINGS,
            help='Protected settings (secrets) as space-separated KEY=VALUE pairs, for example '
                 '`sslCertPemFile=<path> sslKeyPemFile=<path>`. Never shown or logged by amlk8s; az --debug echoes the '
                 'command line itself, so prefer --config-protected-file (or `KEY=@file`) for secret values.')
    c.extra('configuration_settings_file',
            options_list=['--config-file', c.deprecate(target='--config-settings-file', redirect='--config-file',
                                                       **_HIDDEN),
                          c.deprecate(target='--configuration-settings-file', redirect='--config-file', **_HIDDEN)],
            arg_group=SETTINGS,
            help='A JSON file with an object of configuration settings (KEY: VALUE; nested objects become dotted '
                 'keys).')
    c.extra('configuration_protected_settings_file',
            options_list=['--config-protected-file',
                          c.deprecate(target='--config-protected-settings-file', redirect='--config-protected-file',
                                      **_HIDDEN),
                          c.deprecate(target='--configuration-protected-settings-file',
                                      redirect='--config-protected-file', **_HIDDEN)],
            arg_group=SETTINGS,
            help='A JSON file with an object of protected settings, for example {"relayServerConnectionString": '
                 '"..."} for your own Azure Relay on Arc (with --config relayserver.hybridConnectionResourceID=...).')
    c.extra('extension_type', arg_group=COMPAT,
            help='Accepted for compatibility with az k8s-extension; only Microsoft.AzureML.Kubernetes (any case).')
    c.extra('scope', arg_group=COMPAT, help='Accepted for compatibility with az k8s-extension; only cluster.')
    c.extra('release_namespace', arg_group=COMPAT,
            help='Accepted for compatibility with az k8s-extension; only azureml.')
    c.extra('auto_upgrade_minor_version', options_list=['--auto-upgrade-minor-version', '--auto-upgrade'],
            arg_type=get_three_state_flag(), arg_group=VERSION,
            help='Upgrade minor versions automatically. Default: true. Must be false with --version.')
    c.extra('version', arg_group=VERSION,
            help='Pin this extension version (needs --auto-upgrade-minor-version false); checked against the versions '
                 'of the release train.')
    c.extra('release_train', arg_group=VERSION, completer=_completers.release_trains,
            help='The release train, stable or preview. Default: stable.')
    c.extra('node_selector', nargs='+', action=KeyValueAction, arg_group=TRAINING,
            help='Run the extension and ML workloads only on nodes with these labels, as space-separated LABEL=VALUE '
                 'pairs (nodeSelector.<label>).')
    for key in CATALOGUE.values():
        if not key.flag:
            continue
        if key.kind == BOOL:
            kind = {'arg_type': get_three_state_flag()}
        elif key.kind == ENUM:
            kind = {'arg_type': get_enum_type(list(key.choices))}
        else:
            kind = {}
        c.extra(key.param, options_list=[key.flag] + list(key.aliases),
                arg_group=TLS if key.name.startswith(('ssl', 'allowInsecure')) else TRAINING, help=key.help, **kind)


def _many_clusters_arguments(loader):
    """--ids, the Resource Graph selection, the stages of a rollout, list --missing."""
    for scope in FLEET_COMMANDS:
        with loader.argument_context(scope) as c:
            c.argument('ids', nargs='+', arg_group=MANY, validator=cluster_or_ids,
                       help='Run the command for each of these cluster resource ids (AKS and Azure Arc mixed; '
                            'space-separated, or `@file` with one id a line) instead of -g/-c/-t. These are cluster '
                            "resource ids, not extension ids (unlike az's generic --ids): -n names the extension. "
                            'One result per cluster, each with its id; exit code 0 only when every cluster succeeded.')
            c.argument('max_parallel', type=int, arg_group=MANY,
                       help='With --ids or a selection, how many clusters are handled at a time. Default: 20 (with '
                            '--stages: the whole stage, up to 100).')

    for scope in FLEET_COMMANDS + ('amlk8s list',):
        with loader.argument_context(scope) as c:
            c.argument('where', arg_group=MANY,
                       help="Choose the clusters with Azure Resource Graph: a KQL filter over their rows of table "
                            "resources, for example \"tags.env == 'prod'\" or \"location == 'eastus' and "
                            "properties.kubernetesVersion startswith '1.30'\". The command runs for each cluster it "
                            'selects, as with --ids.')
            c.argument('subscriptions', nargs='+', arg_group=MANY,
                       help='The subscription ids to choose clusters in (default: the current one).')
            c.argument('management_groups', nargs='+', arg_group=MANY,
                       help='Choose clusters in these management groups (and the groups below them) instead of '
                            'subscriptions.')
            c.argument('cluster_types', nargs='+', arg_group=MANY, arg_type=get_enum_type(['aks', 'arc']),
                       help='Choose only these kinds of cluster. Default: both.')

    for scope in ('amlk8s deploy', 'amlk8s update'):
        with loader.argument_context(scope) as c:
            c.argument('stages', arg_group=MANY, validator=validate_rollout,
                       help='Roll out in stages: cumulative counts or percentages of the clusters, for example '
                            '1,10%%,100%%. After each stage its clusters must reach Succeeded and pass verify (in '
                            'the cluster too where it can be read) before the next stage starts.')
            c.argument('max_failures', arg_group=MANY,
                       help='With --stages, how many clusters of a stage may fail (a number, or a percentage such as '
                            '5%%) before the rollout stops. Default: 0.')
            c.argument('stage_wait', type=int, arg_group=MANY,
                       help='With --stages, seconds to wait between stages. Default: 0.')

    with loader.argument_context('amlk8s list') as c:
        c.argument('drift', nargs='*', arg_group=MANY,
                   help='List the AzureML extensions that differ from the rest: without values, in version, release '
                        'train or auto-upgrade from the majority; FIELD (a setting such as enableInference) compares '
                        'it with the majority too, FIELD=VALUE (version=1.1.88) with that value.')
        c.argument('policy', arg_group=MANY,
                   help="Each cluster's compliance with this Azure Policy (a definition's or an assignment's name, "
                        'for example the one deploy --export policy made), from Resource Graph.')
        c.argument('missing', action='store_true', arg_group=MANY,
                   help='List the AKS and Azure Arc clusters (of the subscriptions, management groups, --where and '
                        '-g) that have no AzureML extension.')
