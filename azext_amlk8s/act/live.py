# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 4, while ARM's operation runs: read the cluster every few seconds and say what it shows.

ARM reports an AzureML extension's failure 10-15 minutes after the PUT, and often as ``pod healthcheck failed`` or
``status not populated``; the cluster shows the cause within seconds (a Pending pod's scheduler message, an image
that cannot be pulled, a container that keeps crashing). ``deploy`` (without ``--no-wait``) and ``verify --wait``
therefore read namespace ``azureml`` once per round (``ROUND_SECONDS``, one GET per path, one round at a time) while
they wait, and:

- print progress by component when it changes ("7 of 11 components ready");
- print the diagnosis of a release pod that has been Pending, ImagePullBackOff or CrashLoopBackOff for longer than
  the grace period (``--grace``), once per pod and state;
- with ``--fail-fast``, stop waiting at that diagnosis: the command exits 1, and says that the extension keeps
  installing in Azure and how to follow it.

Reads happen on a background thread; what it finds is printed from the waiting thread (``Watch.drain``), so the
output does not interleave with azure-cli's progress line. A cluster that could not be read before the write gets
no watch at all: the wait is then exactly what it was. ``Tracker`` is the pure part (bodies in, messages out).
"""

import calendar
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from knack.log import get_logger

logger = get_logger(__name__)

ROUND_SECONDS = 5.0          # at most one round of GETs per 5 s
DEFAULT_GRACE_SECONDS = 120
# Pod states that do not resolve on their own within the grace period, as running.pod_problem names them.
STUCK_REASONS = ('Pending', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CrashLoopBackOff',
                 'CreateContainerConfigError', 'CreateContainerError', 'OOMKilled', 'Error')


class FailFast(Exception):
    """Raised from ``Watch.drain`` in the waiting thread when ``--fail-fast`` met a diagnosis."""

    def __init__(self, finding, seconds):
        super().__init__(finding.get('diagnosis'))
        self.finding, self.seconds = finding, seconds


def _epoch(stamp) -> Optional[float]:
    """An RFC 3339 time of the Kubernetes API (``2024-05-01T10:00:00Z``) as epoch seconds, or None."""
    try:
        return float(calendar.timegm(time.strptime(str(stamp)[:19], '%Y-%m-%dT%H:%M:%S')))
    except (TypeError, ValueError, OverflowError):
        return None


def _state_since(pod, reason) -> Optional[float]:
    """When the pod entered its present trouble, by its own status (epoch seconds), when it says."""
    status = pod.get('status') if isinstance(pod.get('status'), dict) else {}
    wanted = 'PodScheduled' if reason == 'Pending' else 'Ready'
    for cond in status.get('conditions') or []:
        if isinstance(cond, dict) and cond.get('type') == wanted and cond.get('status') == 'False':
            return _epoch(cond.get('lastTransitionTime'))
    return None


@dataclass
class Tracker:
    """What has been seen across rounds: each pod's trouble and since when, what was already printed."""
    expected: List[dict]
    grace: float
    nodes_body: Optional[dict] = None           # the nodes read before the write (for the scheduler's causes)
    settings: Dict[str, str] = field(default_factory=dict)
    since: Dict[Tuple[str, str], float] = field(default_factory=dict)
    said: set = field(default_factory=set)
    progress: Optional[Tuple[int, int]] = None

    def observe(self, bodies, now: float, wall: float):
        """(progress line or None, [(finding, seconds in that state)] newly past the grace period).

        ``now`` is this process's monotonic clock and ``wall`` epoch seconds (to place the pod's own timestamps)."""
        from azext_amlk8s.rules import running
        lines = None
        rows = running.workload_rows(bodies, self.expected)
        counted = (sum(1 for r in rows if r['status'] == 'ready'), len(rows))
        if rows and counted != self.progress:
            self.progress = counted
            lines = f'{counted[0]} of {counted[1]} components ready'
        overdue, current = [], set()
        for pod in running.release_pods(bodies):
            problem = running.pod_problem(pod)
            if problem is None or problem[0] not in STUCK_REASONS:
                continue
            key = (running.object_name(pod), problem[0])
            current.add(key)
            if key not in self.since:
                own = _state_since(pod, problem[0])
                self.since[key] = now - max(0.0, min(wall - own, 86400.0)) if own is not None else now
            seconds = now - self.since[key]
            if seconds >= self.grace and key not in self.said:
                self.said.add(key)
                overdue.append((running.pod_finding(pod, problem, nodes=self.nodes_body, settings=self.settings),
                                seconds))
        for key in set(self.since) - current:       # recovered: a later relapse counts from then
            del self.since[key]
        return lines, overdue


class Watch:
    """The background reads of one wait; ``drain()`` prints (and, with --fail-fast, raises) in the caller's thread."""

    def __init__(self, reader, paths, tracker, *, fail_fast=False):
        self._source = (reader, list(paths))
        self.tracker, self.fail_fast = tracker, fail_fast
        self._queue: List[tuple] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='amlk8s-live-reads', daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def _run(self):
        from azext_amlk8s.facts import kube
        reader, paths = self._source
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                bodies = reader.get_all(paths)
            except kube.Unreachable:
                return                                  # the cluster stopped answering: ARM's wait goes on alone
            except Exception:  # pylint: disable=broad-except
                return
            try:
                line, overdue = self.tracker.observe(bodies, time.monotonic(), time.time())
            except Exception:  # pylint: disable=broad-except
                line, overdue = None, []
            with self._lock:
                if line:
                    self._queue.append(('progress', line))
                self._queue.extend(('finding', item) for item in overdue)
            self._stop.wait(max(0.0, ROUND_SECONDS - (time.monotonic() - started)))

    def drain(self):
        """Print what the reads found since the last call; raise FailFast for the first overdue pod if asked."""
        with self._lock:
            items, self._queue = self._queue, []
        for kind, item in items:
            if kind == 'progress':
                logger.warning('In the cluster: %s.', item)
                continue
            finding, seconds = item
            logger.warning('In the cluster, for %d s: %s Fix: %s', seconds, finding.get('diagnosis'),
                           finding.get('fix'))
            if self.fail_fast:
                self.stop()
                raise FailFast(finding, seconds)


class WatchedPoller:
    """A poller as azure-cli's LongRunningOperation uses it, whose ``done()`` also prints what the watch found."""

    def __init__(self, poller, watch):
        self._poller, self._watch = poller, watch

    def done(self):
        self._watch.drain()
        return self._poller.done()

    def __getattr__(self, name):
        return getattr(self._poller, name)


def start(access, expected, *, grace, fail_fast, settings=None) -> Optional[Watch]:
    """A running watch of namespace azureml through ``access`` (read before the write), or None when the cluster
    could not be read: then nothing is sent to it during the wait."""
    from azext_amlk8s.facts import kube
    from azext_amlk8s.rules import running
    if access is None or not access.is_read or access.reader is None:
        return None
    nodes = access.bodies.get(kube.path_of(None, 'nodes'))
    tracker = Tracker(expected, float(grace), nodes if isinstance(nodes, dict) else None, dict(settings or {}))
    return Watch(access.reader, running.after_paths(), tracker, fail_fast=fail_fast).start()


def fail_fast_error(ex: FailFast, follow: str):
    """The error of a wait stopped by --fail-fast: the diagnosis, and that Azure goes on installing."""
    from azure.cli.core.azclierror import AzureResponseError
    finding = ex.finding
    return AzureResponseError(
        f"Stopped waiting (--fail-fast): for {int(ex.seconds)} s {finding.get('diagnosis')} The extension keeps "
        "installing in Azure; ARM reports the failure when its own wait ends.",
        [f"Fix: {finding.get('fix')}", follow])


def start_for(access, extension, ref, extension_name, options) -> Optional[Watch]:
    """``start`` for an extension body (what deploy sent, or what verify read): its components and settings."""
    from azext_amlk8s.rules import health
    if options is None or options.arm_only:
        return None
    settings = ((extension or {}).get('properties') or {}).get('configurationSettings') or {}
    expected = health.expected_components(settings, ref.cluster_type, extension_name)
    return start(access, expected, grace=options.grace, fail_fast=options.fail_fast, settings=settings)
