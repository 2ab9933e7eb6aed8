# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 2 for the cluster's Kubernetes API: open access (``kube.py``), prove it is this cluster, then read what the
rules (``incluster.py``) need. check and deploy read before the write; verify (and deploy once Succeeded) after it.

The API server is read only when the cluster is proven: a kubeconfig for another cluster stops the command with
exit code 1 before anything else is read from it.
"""

from azext_amlk8s import incluster, kube


def look(cmd, client, facts, options, paths):
    """(access, proof): the cluster read at ``paths`` after the identity reads, or an access saying why not."""
    ref = facts.ref
    access = kube.open_access(cmd, client, ref, kube_config=options.kube_config, kube_context=options.kube_context,
                              arm_only=options.arm_only)
    if not access.is_read:
        return access, None
    kube.read(access, incluster.identity_paths(ref))
    if not access.is_read:
        return access, None
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


def _intent_and_public(settings, extension_name, public=None):
    from azext_amlk8s import prereqs, settings as rules
    intent = prereqs.Intent(extension_name=extension_name, **rules.intent_fields(settings))
    if public is None:
        public = dict(settings.public) if settings is not None else {}
    return intent, public


def before_write(cmd, client, facts, request, settings, *, public=None):
    """(the in-cluster rows for check and deploy, the access kept for deploy's after-write report)."""
    intent, public = _intent_and_public(settings, request.target.extension_name, public)
    access, proof = look(cmd, client, facts, request.kube, incluster.before_paths(facts.ref, public, intent))
    rows = [incluster.access_row(access, proof)]
    if access.is_read:
        rows += incluster.before_checks(facts, access.bodies, intent, public, request.ignore)
    return rows, (access, proof)


def merge(results, rows):
    """ARM's rows with the in-cluster ones: a row with the same id (Arc's node rows) replaces ARM's unknown."""
    by_id = {r.id: r for r in rows}
    merged = [by_id.pop(r.id) if r.id in by_id else r for r in results]
    return merged + [r for r in rows if r.id in by_id]


def after_write(cmd, client, facts, options, extension, *, ctx, seen=None):
    """(the report's inCluster section, its findings) for an extension resource; ``seen`` reuses deploy's access."""
    from azext_amlk8s import health
    props = (extension or {}).get('properties') or {}
    settings = props.get('configurationSettings') or {}
    expected = health.expected_components(settings, facts.ref.cluster_type, ctx.extension_name)
    inference = str(settings.get('enableInference') or '').lower() == 'true'
    if seen is not None and seen[0].is_read:
        access, proof = seen
        kube.read(access, incluster.after_paths())
    else:
        access, proof = look(cmd, client, facts, options, incluster.after_paths())
    return incluster.after_report(access, proof, access.bodies, expected, ctx=ctx, inference=inference)
