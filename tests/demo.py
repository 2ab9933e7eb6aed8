# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The main job, end to end, on the embedded ARM emulator: no Azure account, no network but 127.0.0.1.

    python3 dev.py demo          (or: .venv/bin/python -m tests.demo)

It starts the emulator (a simulated subscription with AKS and Arc clusters), points a throwaway az config at it,
loads amlk8s from this working tree, and runs what a user would type: check an AKS cluster, catch a mistake before
anything is written, deploy the documented production scenario over HTTPS (a demo certificate is generated),
verify, list, attach it to a workspace (and detach), and delete. Every command and everything it prints is shown.

The cluster's own Kubernetes API is served by the Kubernetes API emulator (tests/emulator/kube), reached with the
cluster user credentials the ARM emulator hands out: the first check finds a Volcano that another Helm release
installed (a conflict Azure Resource Manager cannot see), the deploy reuses it as the fix says, and verify reads what
runs in the cluster. The emulator plays the extension's Helm release: its objects appear when the deploy starts.
"""

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AZ = Path(sys.executable).parent / 'az'

STEPS = [
    ('Check the cluster before deploying (read-only; it also reads the cluster\'s Kubernetes API)',
     'az amlk8s check -g rg-ml -c aks-prod -t managedClusters --enable-training -o table', 1),
    ('A mistake is caught before anything is written: HTTPS needs sslCname',
     'az amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config enableTraining=True '
     'enableInference=True inferenceRouterServiceType=loadBalancer --config-protected sslCertPemFile={cert} '
     'sslKeyPemFile={key} --cluster-type managedClusters --cluster-name aks-prod --resource-group rg-ml '
     '--scope cluster', 1),
    ('See exactly what would be sent (protected values hidden), without writing',
     'az amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training --enable-inference '
     '--inference-router-service-type LoadBalancer --ssl-cname ml.contoso.com --install-volcano false '
     '--ssl-cert-pem-file {cert} --ssl-key-pem-file {key} --dry-run '
     '--query properties.configurationProtectedSettings', 0),
    ('A failure users report, named while the deploy still runs: on aks-gpu the extension operator runs out of '
     'memory (OOMKilled, then CrashLoopBackOff). ARM would say so only when its wait ends; --fail-fast stops '
     'waiting at the diagnosis (the extension keeps installing in Azure)',
     'az amlk8s deploy -g rg-ml -c aks-gpu -t aks --enable-training --install-volcano false --grace 5 --fail-fast', 1),
    ('Deploy: the documented AKS production scenario, with az amlk8s deploy in place of az k8s-extension create '
     'and installVolcano=false, the fix the first check named',
     'az amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config enableTraining=True '
     'enableInference=True inferenceRouterServiceType=loadBalancer sslCname=ml.contoso.com installVolcano=false '
     '--config-protected '
     'sslCertPemFile={cert} sslKeyPemFile={key} --cluster-type managedClusters --cluster-name aks-prod '
     '--resource-group rg-ml --scope cluster --query "{{name:name, state:provisioningState, '
     'version:currentVersion}}"', 0),
    ('Verify the deployed extension, in Azure and inside the cluster',
     'az amlk8s verify -g rg-ml -c aks-prod -t managedClusters -o table', 0),
    ('List the AzureML extensions of the cluster',
     'az amlk8s list -g rg-ml -c aks-prod -t managedClusters -o table', 0),
    ('Hand the cluster to the Azure Machine Learning workspace: attach it as a Kubernetes compute target',
     'az amlk8s attach -g rg-ml -c aks-prod -t managedClusters --workspace /subscriptions/{sub}/resourceGroups/'
     'rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1 --compute-name aks-prod-compute '
     '--query "{{name:name, type:properties.computeType, state:properties.provisioningState}}"', 0),
    ('Detach it again before the extension is removed',
     'az amlk8s detach -g rg-ml -c aks-prod -t managedClusters --workspace /subscriptions/{sub}/resourceGroups/'
     'rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1 --compute-name aks-prod-compute --yes', 0),
    ('Delete it (scripts pass --yes; without a terminal and without --yes nothing is deleted)',
     'az amlk8s delete -g rg-ml -c aks-prod -t managedClusters --yes', 0),
    ('It is gone: show exits with code 3',
     'az amlk8s show -g rg-ml -c aks-prod -t managedClusters', 3),
]


def _say(text=''):
    print(text, flush=True)


def _oom_release(ks, node_rg):
    """The release on aks-gpu as it gets stuck: its aml-operator container is OOMKilled and restarts (a class of the
    public record, shared/real-failures.md), everything else comes up."""
    from tests.emulator.kube import failures as kf
    from tests.emulator.kube.store import now_iso

    def objects():
        release = ks.azureml_components('azureml', inference=False, install_volcano=False,
                                        nodes=ks.node_names(ks.aks_nodes(node_rg)))
        kept = [o for o in release if not (o['kind'] in ('Pod', 'Deployment')
                                           and o['metadata']['name'].startswith('aml-operator'))]
        return kept + [ks.deployment('aml-operator', ready=0),
                       kf.crashing_pod('aml-operator-5d8f7c6b9-q7w2e', reason='OOMKilled', since=now_iso())]
    return objects


def main():
    sys.path.insert(0, str(REPO))
    from tests.certs import make_tls_files
    from tests.emulator import Emulator, azconfig
    from tests.emulator.kube import KubeEmulator, scenarios as ks

    failures = 0
    with tempfile.TemporaryDirectory(prefix='amlk8s-demo-') as work:
        work = Path(work)
        tls = make_tls_files(work / 'tls', 'ml.contoso.com', chain=True)
        with Emulator(scenario='default', state_dir=work / 'emulator') as emu, \
                KubeEmulator(state_dir=work / 'kube-emulator') as kube:
            node_rg = emu.resource(emu.cluster_id('aks-prod'))['properties']['nodeResourceGroup']
            kube.add_cluster('aks-prod', ks.aks_world(node_rg, installed=False) + ks.volcano_crds())
            emu.set_kubeconfig('aks-prod', kube.kubeconfig('aks-prod'))
            release = ks.azureml_components('azureml', nodes=ks.node_names(ks.aks_nodes(node_rg)),
                                            install_volcano=False) + [ks.healthcheck_configmap()]
            gpu_rg = emu.resource(emu.cluster_id('aks-gpu'))['properties']['nodeResourceGroup']
            kube.add_cluster('aks-gpu', ks.aks_world(gpu_rg, installed=False))
            emu.set_kubeconfig('aks-gpu', kube.kubeconfig('aks-gpu'))
            failing = _oom_release(ks, gpu_rg)
            config_dir = azconfig.seed_config_dir(work / 'azure-config', emu.base_url, emu.subscription_id,
                                                  emu.tenant_id)
            home = work / 'home'
            home.mkdir()
            env = azconfig.az_environment(emu.base_url, emu.ca_path, config_dir,
                                          dev_sources=azconfig.make_dev_sources(work / 'dev', REPO / 'azext_amlk8s'),
                                          extension_dir=work / 'cliextensions', home=home,
                                          base_env=dict(os.environ))
            env['PATH'] = '{}{}{}'.format(AZ.parent, os.pathsep, env.get('PATH', ''))
            _say('amlk8s demo: a simulated Azure subscription is served by the local ARM emulator at {}'.format(
                emu.base_url))
            _say('(AKS cluster aks-prod in resource group rg-ml: 3 nodes, managed identity, a Volcano installed by '
                 'another Helm release; its Kubernetes API is served at {}; a demo certificate for ml.contoso.com was '
                 'generated in {})'.format(kube.base_url, tls.cert_path.parent))
            for number, (title, command, expected) in enumerate(STEPS, 1):
                command = command.format(cert=shlex.quote(str(tls.cert_path)), key=shlex.quote(str(tls.key_path)),
                                         sub=emu.subscription_id)
                _say()
                _say('== {}. {}'.format(number, title))
                _say('$ ' + command)
                if command.startswith('az amlk8s deploy --name'):
                    kube.put('aks-prod', *release)
                live = '--fail-fast' in command
                if live:        # ARM's operation runs for a minute; the release's operator crashes at once
                    emu.settings(complete_after=60)
                    kube.put('aks-gpu', *failing())
                started = time.monotonic()
                result = subprocess.run([str(AZ)] + shlex.split(command)[1:], env=env, cwd=work,
                                        capture_output=True, text=True, timeout=300, check=False)
                output = (result.stdout + result.stderr).rstrip()
                if output:
                    _say(output)
                _say('[exit code {}, {:.1f} s]'.format(result.returncode, time.monotonic() - started))
                if live:
                    emu.settings(complete_after=None)
                if result.returncode != expected:
                    failures += 1
                    _say('!! expected exit code {}'.format(expected))
            writes = emu.writes()
            _say()
            _say('The Kubernetes API emulator received {} request(s), none of them a write: {}.'.format(
                len(kube.requests()), 'none written' if not kube.writes() else 'WRITES: {}'.format(kube.writes())))
            if kube.writes():
                failures += 1
            _say('The emulator received {} write request(s) in all: {}.'.format(
                len(writes), ', '.join('{} {}'.format(r.method, '/'.join(r.path.split('/')[-2:])) for r in writes)))
    _say('Demo {}.'.format('finished' if not failures else 'FAILED ({} step(s) off)'.format(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
