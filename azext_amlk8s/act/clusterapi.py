# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 2 for the cluster's Kubernetes API: open access (``kube.py``), prove it is this cluster, then read what the
rules (``incluster.py`` before the write, ``running.py`` after it) need. check and deploy read before the write;
verify (and deploy once Succeeded) after it.

The API server is read only when the cluster is proven: a kubeconfig for another cluster stops the command with
exit code 1 before anything else is read from it.
"""

from azext_amlk8s.facts import kube
from azext_amlk8s.rules import health, incluster, running
from azext_amlk8s._text import shell_quote
from azext_amlk8s.rules.settings import installed_key_findings


def warm_up(request):
    """At the start of check, deploy and verify: begin importing the client when the cluster will be read."""
    if not request.kube.arm_only and (request.kube.kube_config or request.target.ref.is_aks):
        kube.warm_up()


def look(cmd, client, facts, options, paths):
    """(access, proof): the cluster read at ``paths`` after the identity reads, or an access saying why not."""
    ref = facts.ref
    access = kube.open_access(cmd, client, ref, kube_config=options.kube_config, kube_context=options.kube_context,
                              arm_only=options.arm_only)
    if not access.is_read:
        return access, None
    kube.read(access, incluster.identity_paths(ref))
    if not access.is_read:
        return _why_unreachable(access, facts), None
    proven, how = incluster.prove_identity(facts, access.server, access.bodies)
    if proven is False:
        raise incluster.wrong_cluster_error(ref, access.server, access.source, how)
    if proven is None:
        access.status, access.reason, access.reader = kube.UNKNOWN, how, None
        access.fix = ('Pass --kube-config with a kubeconfig of this cluster whose user may list nodes'
                      + (' and read configmap azure-clusterconfig in azure-arc' if ref.is_arc else ''))
        return access, None
    kube.read(access, paths)
    return access, how


def _why_unreachable(access, facts):
    """What ARM says about why the API server may not answer this machine: a private cluster, authorized ranges."""
    if facts.private_cluster:
        access.reason += ('; the cluster is private: its API server answers only inside its virtual network (or '
                          'through az aks command invoke, which is not made for tools)')
        access.fix = ('Run the command from a machine in the cluster\'s virtual network (or a peered one), or pass '
                      '--arm-only.')
    elif facts.authorized_ip_ranges:
        access.reason += (f"; the API server accepts only the authorized IP ranges "
                          f"{', '.join(facts.authorized_ip_ranges)}")
        access.fix = (f'Add this machine\'s public IP: az aks update {facts.ref.aks_args} '
                      '--api-server-authorized-ip-ranges <ranges>,<this-ip>/32, or pass --arm-only.')
    return access


def namespace_exists(cmd, client, facts, options, namespace):
    """(True | False | None, access): whether ``namespace`` exists and is not terminating; None when the cluster's API
    could not tell."""
    path = kube.path_of(None, 'namespaces', namespace)
    access, _ = look(cmd, client, facts, options, [path])
    body = access.bodies.get(path) if access.is_read else kube.Denied(0, access.reason)
    if isinstance(body, kube.Denied):
        return None, access
    phase = str(((body or {}).get('status') or {}).get('phase') or 'Active')
    return body is not None and phase.lower() != 'terminating', access


def before_write(cmd, client, facts, request, settings, *, public=None):
    """(the in-cluster rows for check and deploy, the access kept for deploy's after-write report)."""
    from azext_amlk8s.rules.plan import intent_for
    intent = intent_for(settings, request.target.extension_name)
    if public is None:
        public = dict(settings.public) if settings is not None else {}
    access, proof = look(cmd, client, facts, request.kube, incluster.before_paths(facts.ref, public, intent))
    rows = [incluster.access_row(access, proof)]
    if access.is_read:
        rows += incluster.before_checks(facts, access.bodies, intent, public, request.ignore)
    return rows, (access, proof)


def after_write(cmd, client, facts, options, extension, *, ctx, seen=None):
    """(the report's inCluster section, its findings) for an extension resource; ``seen`` reuses deploy's access."""
    props = (extension or {}).get('properties') or {}
    settings = props.get('configurationSettings') or {}
    expected = health.expected_components(settings, facts.ref.cluster_type, ctx.extension_name)
    inference = str(settings.get('enableInference') or '').lower() == 'true'
    if seen is not None:        # deploy: the access of its checks, read again (or still not readable)
        access, proof = seen
        kube.read(access, running.after_paths(facts.ref.is_arc))
    else:
        access, proof = look(cmd, client, facts, options, running.after_paths(facts.ref.is_arc))
    kube.read_each(access, running.crash_log_paths(access.bodies))    # why they crash; a slow log costs only itself
    state = str(props.get('provisioningState') or '').lower()
    section, findings = running.after_report(access, proof, access.bodies, expected, ctx=ctx, inference=inference,
                                             fresh=running.fresh_report_keys(extension),
                                             settled=state in ('succeeded', 'failed', 'canceled'),
                                             location=facts.location)
    target = f'{facts.ref.cli_args} -n {shell_quote(ctx.extension_name or "azureml")}'
    judged = (running.settings_against_nodes(settings, access.bodies, target)
              + running.other_stack_findings(access.bodies, settings, ctx)) if access.is_read else []
    return section, findings + judged + installed_key_findings(settings, target)


def collect(cmd, client, req, cluster_body, *, extension, report, many=False):
    """verify --collect: the support bundle for this cluster (bundle.py), written to ``req.collect`` (with --ids a
    folder holding one archive per cluster); the cluster's part read here, GET only."""
    import os
    from knack.log import get_logger
    from azext_amlk8s.report import bundle
    from azext_amlk8s.facts.cluster import facts_from_bodies
    ref = req.target.ref
    facts = facts_from_bodies(ref, cluster_body or {})
    target = req.collect
    if many:
        target = os.path.join(target, f'{ref.cluster_name}-{ref.resource_group}.zip')
        os.makedirs(req.collect, mode=0o700, exist_ok=True)
    result = bundle.Bundle(req.collect_max_mb)
    result.add_json('report.json', report, 'az amlk8s verify')
    result.add('report.txt', bundle.scrub(health.failure_message(report)) + '\n', 'az amlk8s verify')
    result.add_json('azure/extension.json', extension, f'ARM GET {ref.extension_id(req.target.extension_name)}')
    result.add_json('azure/cluster.json', bundle.cluster_fields(cluster_body), f'ARM GET {ref.resource_id}')
    access, proof = look(cmd, client, facts, req.kube, bundle.paths(ref.is_arc))
    kube.read_each(access, bundle.log_paths(access.bodies))       # a slow log costs only itself
    bundle.fill(result, access, proof)
    written = result.write(target)
    get_logger(__name__).warning('Support bundle: %s (%d files, %d bytes; manifest.json says what was read).',
                                 written, len(result.files), result.size)
    return written
