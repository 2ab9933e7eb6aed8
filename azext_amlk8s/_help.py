# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
# pylint: disable=line-too-long, too-many-lines

from knack.help_files import helps

helps['amlk8s'] = """
type: group
short-summary: Deploy, check, verify, update and remove the Azure Machine Learning extension on AKS and Azure Arc-enabled Kubernetes clusters.
long-summary: >
    amlk8s manages the Azure Machine Learning extension (Microsoft.AzureML.Kubernetes). Every documented
    prerequisite and setting rule is checked before anything is written to Azure; failures come back with the fix.
    Any documented `az k8s-extension create --extension-type Microsoft.AzureML.Kubernetes ...` command works with
    `az amlk8s deploy` in its place. Troubleshooting guide: `https://aka.ms/arcmltsg`
"""

helps['amlk8s deploy'] = """
type: command
short-summary: Validate, then create (or re-apply) the AzureML extension on a cluster.
long-summary: >
    Checks the inputs (settings, TLS files) and the cluster's prerequisites (provider registration, managed
    identity, local accounts, Arc connectivity, node count, existing extensions...) before anything is written,
    builds the configuration settings the service expects, creates the Azure Relay an Arc cluster needs, then
    creates or re-applies the extension (PUT) and waits for it, showing progress. Running the same deploy again
    re-applies it. Only one AzureML extension can be installed per cluster. It also reads the cluster's Kubernetes
    API (read-only, as check does; --arm-only skips it) and refuses conflicts found there before the write, then
    reports what runs in the cluster once the extension has succeeded.
    Settings can be given as typed flags (--enable-training, --ssl-cname, ...) or in the az k8s-extension form
    (--config KEY=VALUE, --config-protected KEY=VALUE, --config-file, --config-protected-file). Protected values and
    the content of the PEM files are never shown or logged; the local file paths are never sent.
examples:
  - name: AKS proof of concept with training and inference over HTTP (the documented quick start).
    text: >
        az amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config enableTraining=True enableInference=True inferenceRouterServiceType=loadBalancer allowInsecureConnections=True inferenceRouterHA=False --cluster-type managedClusters --cluster-name myaks --resource-group myrg --scope cluster
  - name: The same with typed flags.
    text: >
        az amlk8s deploy -g myrg -c myaks -t aks --enable-training --enable-inference --inference-router-service-type LoadBalancer --allow-insecure-connections --inference-router-ha false
  - name: Azure Arc-enabled cluster, training only (proof of concept).
    text: >
        az amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config enableTraining=True --cluster-type connectedClusters --cluster-name myarc --resource-group myrg --scope cluster
  - name: AKS production, training and inference behind a public load balancer with HTTPS from PEM files.
    text: >
        az amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config enableTraining=True enableInference=True inferenceRouterServiceType=loadBalancer sslCname=ml.contoso.com --config-protected sslCertPemFile=./cert.pem sslKeyPemFile=./key.pem --cluster-type managedClusters --cluster-name myaks --resource-group myrg --scope cluster
  - name: Azure Arc-enabled cluster in production with NVIDIA GPUs, NodePort and HTTPS.
    text: >
        az amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config enableTraining=True enableInference=True inferenceRouterServiceType=nodePort sslCname=ml.contoso.com installNvidiaDevicePlugin=True installDcgmExporter=True --config-protected sslCertPemFile=./cert.pem sslKeyPemFile=./key.pem --cluster-type connectedClusters --cluster-name myarc --resource-group myrg --scope cluster
  - name: HTTPS with a certificate stored in a Kubernetes secret (namespace azureml, keys cert.pem and key.pem).
    text: >
        az amlk8s deploy -g myrg -c myaks -t managedClusters --enable-inference --inference-router-service-type LoadBalancer --ssl-secret azureml-tls --ssl-cname ml.contoso.com
  - name: AKS with only an internal load balancer for inference.
    text: >
        az amlk8s deploy -g myrg -c myaks -t managedClusters --config enableInference=True inferenceRouterServiceType=LoadBalancer internalLoadBalancerProvider=azure allowInsecureConnections=True
  - name: 'Arc cluster with your own (private link) Azure Relay. relay.json holds the connection string of the hybrid connection under the key relayserver.relayConnectionString, for example {"relayserver.relayConnectionString": "Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=<rule>;SharedAccessKey=<key>;EntityPath=<hc>"}.'
    text: >
        az amlk8s deploy -g myrg -c myarc -t connectedClusters --config enableTraining=True relayserver.hybridConnectionResourceID=/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Relay/namespaces/<ns>/hybridConnections/<hc> --config-protected-file relay.json
  - name: Restrict the extension and ML workloads to labelled nodes, and pin a version.
    text: >
        az amlk8s deploy -g myrg -c myaks -t aks --enable-training --node-selector agentpool=mlpool --auto-upgrade-minor-version false --version 1.1.88
  - name: Show what would be sent, without writing anything.
    text: >
        az amlk8s deploy -g myrg -c myaks -t aks --enable-training --dry-run
  - name: Roll out to many clusters, four at a time; run it again after a failure and only the rest is changed.
    text: >
        az amlk8s deploy --ids @clusters.txt --enable-training true --max-parallel 4 -o table
  - name: Roll out to the production AKS clusters chosen with Resource Graph, in three gated stages (1 cluster, then 10%, then all); each stage must pass verify before the next starts, and the same command resumes a stopped rollout.
    text: >
        az amlk8s deploy --where "tags.env == 'prod'" --cluster-types aks --stages 1,10%,100% --max-failures 0 --enable-training true -o table
  - name: Show the stages a rollout over a management group would take, without writing anything.
    text: >
        az amlk8s deploy --management-groups mg-ml --stages 1,50%,100% --enable-training true --dry-run -o table
  - name: Give the checked extension as a Bicep file instead of deploying it (also arm, terraform, or policy for a deployIfNotExists definition); nothing is written to Azure.
    text: >
        az amlk8s deploy -g myrg -c myaks -t aks --enable-training true --export bicep --export-file azureml.bicep
  - name: Deploy on AKS with local accounts disabled and create the Trusted Access binding for a workspace.
    text: >
        az amlk8s deploy -g myrg -c myaks -t aks --enable-training --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --create-trusted-access --yes
"""

helps['amlk8s check'] = """
type: command
short-summary: Check a cluster's prerequisites and the settings you plan to deploy, without writing anything.
long-summary: >
    Runs the same checks as deploy and prints one row per check with its status (pass, warning, fail, unknown,
    ignored), the finding and the fix. Exits non-zero when a blocking check fails. With settings, they are validated
    too (including the TLS files, reported as the check "settings"); without, only the cluster is checked. The
    cluster checks, whose ids --ignore-check takes: cluster-state, provider-registration, managed-identity,
    local-accounts, authorized-ip-ranges, pod-identity, outbound-network, arc-connectivity, node-architecture, openshift, existing-extension,
    extension-busy, inference-router-ha, internal-load-balancer, load-balancer-support, capacity, gpu-device-plugin,
    kubernetes-version, cli-version. With --workspace also workspace-subscription (the workspace is in the
    cluster's subscription), legacy-compute (no legacy AKS compute of the workspace on this cluster) and, on AKS
    with local accounts disabled, trusted-access (a Trusted Access binding for the workspace); --ignore-check does
    not skip them. From the cluster's Kubernetes API (read-only; on AKS with the cluster user credentials from
    Azure, else --kube-config; --arm-only skips it): cluster-api (whether it was read), legacy-azureml-fe,
    azureml-namespace, helm-ownership, ingress-nginx, ssl-secret and gpu-software; on Arc the nodes' architecture,
    capacity and GPUs come from there too.
examples:
  - name: Check an AKS cluster before deploying.
    text: az amlk8s check -g myrg -c myaks -t managedClusters -o table
  - name: Check what attaching an AKS cluster to a workspace needs (subscription, legacy computes, Trusted Access).
    text: >
        az amlk8s check -g myrg -c myaks -t managedClusters --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws
  - name: Check an Arc cluster for the settings of a production deployment; JSON for scripts.
    text: >
        az amlk8s check -g myrg -c myarc -t connectedClusters --config enableTraining=True enableInference=True inferenceRouterServiceType=nodePort sslCname=ml.contoso.com --config-protected sslCertPemFile=./cert.pem sslKeyPemFile=./key.pem -o json
  - name: Check an Arc cluster with the kubeconfig that az connectedk8s proxy writes (run it in another terminal first).
    text: >
        az amlk8s check -g myrg -c myarc -t connectedClusters --enable-inference --ssl-secret azureml-tls --ssl-cname ml.contoso.com --kube-config ./arc.kubeconfig
  - name: Check only what Azure Resource Manager shows, without reading the cluster.
    text: az amlk8s check -g myrg -c myaks -t managedClusters --arm-only
"""

helps['amlk8s verify'] = """
type: command
short-summary: Report the health of a deployed AzureML extension, with a diagnosis and fix for each problem.
long-summary: >
    Reads the extension and reports its provisioning state, version, release train, the components its settings
    install, each status the service reports and any error translated into a diagnosis and a fix, plus the
    in-cluster checks to run next. It also reads the cluster's Kubernetes API (read-only): each component's ready
    and desired replicas, pods that are not ready and why, the arcml-healthcheck report and the inference router's
    address. On AKS the cluster user credentials come from Azure; on Azure Arc pass --kube-config. Exits 0 only
    when the extension has succeeded and nothing is failing.
examples:
  - name: Verify the extension on an AKS cluster.
    text: az amlk8s verify -g myrg -c myaks -t managedClusters -o table
  - name: Also report the compute targets of a workspace that use this cluster.
    text: >
        az amlk8s verify -g myrg -c myaks -t managedClusters --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws
  - name: Wait up to 20 minutes for a deployment started with --no-wait to finish, then report.
    text: az amlk8s verify -g myrg -c myarc -t connectedClusters --wait --timeout 1200
  - name: Verify an Arc cluster and what runs in it, with a kubeconfig and one of its contexts.
    text: az amlk8s verify -g myrg -c myarc -t connectedClusters --kube-config ~/.kube/config --kube-context onprem
  - name: Verify from Azure Resource Manager only.
    text: az amlk8s verify -g myrg -c myaks -t managedClusters --arm-only
  - name: Write a redacted support bundle for Microsoft support (the report, the resources, the workloads, events and logs of pods that fail).
    text: az amlk8s verify -g myrg -c myaks -t managedClusters --collect azureml-support.zip
  - name: One support bundle per cluster, into a folder.
    text: az amlk8s verify --ids @clusters.txt --collect ./bundles --collect-max-mb 20
"""

helps['amlk8s show'] = """
type: command
short-summary: Show the AzureML extension resource of a cluster.
long-summary: Protected settings are never returned by the service. A missing extension exits with code 3.
examples:
  - name: Show the extension named azureml on an AKS cluster.
    text: az amlk8s show -g myrg -c myaks -t managedClusters
  - name: Show only its provisioning state.
    text: az amlk8s show -g myrg -c myarc -t connectedClusters -n azureml --query provisioningState -o tsv
"""

helps['amlk8s list'] = """
type: command
short-summary: List the AzureML extensions of a cluster, or of every cluster in your subscriptions.
long-summary: >
    With --cluster-name (and -g, -t): the AzureML extensions of that cluster (other extension types are left out).
    Without it: every AzureML extension in the current subscription (or --subscriptions), found with Azure Resource
    Graph, one row per extension with its cluster, state, version, release train, auto-upgrade and, when it is not
    healthy (failed, or its cluster offline, stopped or gone), a one-line error; -g narrows to a resource group.
    The table shows unhealthy extensions first; --query works on the JSON, and "[].clusterId" feeds --ids.
    --where (a Resource Graph filter over the clusters, such as tags.env == 'prod'), --management-groups and
    --cluster-types narrow the clusters; --missing lists the clusters that have no AzureML extension, and --drift
    the extensions that differ from the majority (or from given values).
examples:
  - name: List the AzureML extensions of an AKS cluster.
    text: az amlk8s list -g myrg -c myaks -t managedClusters -o table
  - name: Every AzureML extension in three subscriptions, unhealthy ones first.
    text: az amlk8s list --subscriptions 00000000-0000-0000-0000-000000000001 00000000-0000-0000-0000-000000000002 00000000-0000-0000-0000-000000000003 -o table
  - name: The clusters whose AzureML extension failed, then verify them all at once.
    text: az amlk8s verify --ids $(az amlk8s list --query "[?provisioningState=='Failed'].clusterId" -o tsv) -o table
  - name: The AKS and Arc clusters of a management group that have no AzureML extension yet.
    text: az amlk8s list --missing --management-groups mg-ml -o table
  - name: The AzureML extensions of the clusters tagged env=prod.
    text: az amlk8s list --where "tags.env == 'prod'" -o table
  - name: Each cluster's compliance with the policy deploy --export policy made.
    text: az amlk8s list --policy azureml-training -o table
  - name: The extensions whose version, release train or auto-upgrade differs from the rest of the fleet, or whose enableInference differs from True.
    text: az amlk8s list --drift enableInference=True -o table
"""

helps['amlk8s update'] = """
type: command
short-summary: Change the settings or version of the AzureML extension (PATCH).
long-summary: >
    Takes the same settings arguments as deploy and sends only what changes. The resulting configuration is checked
    with the same rules as deploy (enabling inference needs the router service type and HTTPS settings). Changes
    that disrupt running jobs or endpoints (turning training or inference off, NVIDIA plugin off, HTTP/HTTPS,
    router service type, internal load balancer, sslCname, node selector) ask for confirmation; --yes skips it, and
    without a terminal the update is refused. Because Azure replaces all protected settings when any is given,
    amlk8s re-supplies the Arc relay connection string itself and refuses a change that would silently drop the TLS
    certificate: pass the PEM files again. --node-selector gives the complete set of labels; an existing label
    cannot be removed by update.
examples:
  - name: Rotate the HTTPS certificate from new PEM files.
    text: >
        az amlk8s update -g myrg -c myaks -t managedClusters --ssl-cert-pem-file ./new-cert.pem --ssl-key-pem-file ./new-key.pem
  - name: Rotate the certificate the documented way (az k8s-extension spelling).
    text: >
        az amlk8s update --name azureml --extension-type Microsoft.AzureML.Kubernetes --config sslCname=ml.contoso.com --config-protected sslCertPemFile=./cert.pem sslKeyPemFile=./key.pem --cluster-type managedClusters --cluster-name myaks --resource-group myrg --scope cluster
  - name: Turn HTTPS off (development clusters only).
    text: az amlk8s update -g myrg -c myaks -t aks --allow-insecure-connections true --yes
  - name: Enable inference on a training-only Arc cluster.
    text: az amlk8s update -g myrg -c myarc -t arc --enable-inference --inference-router-service-type NodePort --allow-insecure-connections
  - name: Pin a version.
    text: az amlk8s update -g myrg -c myaks -t aks --auto-upgrade-minor-version false --version 1.1.88
  - name: Move the staging clusters to a version in stages of 10% of them, allowing one failed cluster per stage and waiting 10 minutes between stages.
    text: az amlk8s update --where "tags.env == 'staging'" --stages 10%,20%,50%,100% --max-failures 1 --stage-wait 600 --version 1.1.88 --auto-upgrade-minor-version false
  - name: Use a custom Volcano scheduler configuration.
    text: az amlk8s update -g myrg -c myaks -t aks --config volcanoScheduler.schedulerConfigMap=volcano-no-gang amloperator.skipResourceValidation=true
"""

helps['amlk8s delete'] = """
type: command
short-summary: Delete the AzureML extension from a cluster.
long-summary: >
    Asks for confirmation (--yes skips it; without a terminal the delete is refused). Lists the Azure resources
    made for the extension (the Azure Relay of an Arc cluster, tagged by amlk8s or az k8s-extension) and removes them
    only with --cleanup; a relay without such a tag is yours and is never deleted.
    Removing the components from the cluster takes about 10 minutes after the command returns.
examples:
  - name: Delete the extension from an AKS cluster.
    text: az amlk8s delete -g myrg -c myaks -t managedClusters --yes
  - name: Delete it from an Arc cluster and remove the Azure Relay amlk8s created.
    text: az amlk8s delete -g myrg -c myarc -t connectedClusters --cleanup --yes
  - name: Remove the Azure resource even though the cluster is offline.
    text: az amlk8s delete -g myrg -c myarc -t connectedClusters --force --yes
  - name: Delete it from several clusters at once (one confirmation for the whole list).
    text: az amlk8s delete --ids /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<aks> /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Kubernetes/connectedClusters/<arc> --yes
"""

helps['amlk8s wait'] = """
type: command
short-summary: Wait for the AzureML extension to reach a state (for scripts that used --no-wait).
examples:
  - name: Wait until a deployment started with --no-wait has succeeded.
    text: az amlk8s wait -g myrg -c myaks -t managedClusters --created
  - name: Wait until the extension is deleted.
    text: az amlk8s wait -g myrg -c myaks -t managedClusters --deleted
"""

helps['amlk8s attach'] = """
type: command
short-summary: Attach the cluster to an Azure Machine Learning workspace as a Kubernetes compute target.
long-summary: >
    Refuses (nothing written) unless the AzureML extension is healthy (as az amlk8s verify reports it) and the
    workspace checks pass: same subscription as the cluster (otherwise connect the AKS cluster to Azure Arc in the
    workspace's subscription and attach that), no legacy AKS compute of the workspace on this cluster, and on AKS
    with local accounts disabled a Trusted Access binding for the workspace. Then creates the compute (PUT of the
    workspace's computes/NAME, computeType Kubernetes) and waits for it. Running it again with the same values
    changes nothing; a compute of that name pointing elsewhere is refused. Needs Contributor on the workspace; a
    user-assigned identity needs Reader, Kubernetes Extension Contributor and Azure Kubernetes Service Cluster Admin
    on the cluster (and Azure Relay Owner on an Azure Arc cluster). The namespace must already exist: it is read
    from the cluster's Kubernetes API (as verify reads it; --kube-config on Azure Arc) and a missing one is refused.
examples:
  - name: Attach an AKS cluster to a workspace in the default namespace.
    text: >
        az amlk8s attach -g myrg -c myaks -t managedClusters --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --compute-name k8s-compute
  - name: Attach an Arc cluster with a namespace and a user-assigned identity, without waiting.
    text: >
        az amlk8s attach -g myrg -c myarc -t connectedClusters --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --compute-name arc-compute --namespace ml --identity-type UserAssigned --user-assigned-identity /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/myidentity --no-wait
  - name: Give the compute target as Terraform (azapi_resource) instead of attaching.
    text: >
        az amlk8s attach -g myrg -c myaks -t managedClusters --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --compute-name k8s-compute --export terraform
  - name: Attach every cluster in the list to one workspace, each as a compute named after its cluster.
    text: >
        az amlk8s attach --ids @clusters.txt --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --compute-name "k8s-{cluster}" -o table
"""

helps['amlk8s detach'] = """
type: command
short-summary: Detach a Kubernetes compute target from an Azure Machine Learning workspace.
long-summary: >
    Asks for confirmation (--yes skips it; without a terminal the detach is refused), then removes the compute
    (DELETE with underlyingResourceAction=Detach) and waits. The cluster and its AzureML extension stay. With the
    cluster arguments (-g, -c, -t), a compute that is not a Kubernetes compute for that cluster is refused. A
    missing compute exits with code 3.
examples:
  - name: Detach a compute target.
    text: >
        az amlk8s detach --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --compute-name k8s-compute --yes
  - name: Detach it only if it is the compute of this AKS cluster.
    text: >
        az amlk8s detach -g myrg -c myaks -t managedClusters --workspace /subscriptions/<subscription-id>/resourceGroups/myrg/providers/Microsoft.MachineLearningServices/workspaces/myws --compute-name k8s-compute --yes
"""
