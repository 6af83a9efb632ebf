"""One service's set of instances: power-of-two-choices balancing and outlier ejection.

A service's URL setting may list several base URLs, and a DNS name among them may stand for
several addresses (``upstreams.discovery``); each is an ``Instance``. An attempt picks one
with ``InstanceSet.choose``: two distinct healthy candidates drawn at random, the one with
the lower load wins, load being in-flight calls weighted by the recent latency (an
exponentially weighted moving average). Instances already tried in the same call are
avoided while others are healthy (failover).

An instance is **healthy** or **ejected**. ``finished`` reports an attempt's outcome and
``probed`` a health probe's: ``eject_after`` consecutive failures (connection failures or
5xx) eject an instance for a backoff that doubles from ``eject_base`` up to ``eject_max``
seconds. It comes back when the backoff ends, or at once when a call or a probe on it
succeeds; that success also resets the backoff and its latency average (what it was
before it failed says nothing of it now, and would keep P2C away from it). When every
instance is ejected the one whose ejection ends first is used anyway: the service's
breaker, not the instance set, decides that a service is down.

``update`` replaces the set's base URLs (discovery): instances whose URL is still listed
keep their load and ejection state, new ones start healthy, and dropped ones leave the set
(calls in flight on them finish normally, and what they report is ignored).

An optional ``InstanceObserver`` hears of every instance added, removed, ejected or back,
and of each attempt's start and end (metrics). With one instance ``choose`` returns it at
once and no accounting is done: the default single-URL path costs nothing measurable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from upstreams.config import InstancePolicy

# Weight of the newest latency sample in the moving average.
EWMA_ALPHA = 0.3
HEALTHY, EJECTED = "healthy", "ejected"


def instance_id(base_url: str) -> str:
    """A stable opaque name for the instance at ``base_url``: what responses show of it
    (never its address)."""
    return hashlib.sha256(base_url.encode()).hexdigest()[:8]


class Instance:
    """One base URL of a service and what the balancer knows of it. ``ejections`` counts
    the ejections since the last success (the backoff's exponent), ``ejections_total`` all
    of them."""

    __slots__ = (
        "address",
        "base_url",
        "ejected_until",
        "ejections",
        "ejections_total",
        "failures",
        "id",
        "inflight",
        "latency",
        "member",
        "reported",
    )

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.id = instance_id(base_url)
        self.address = _address(base_url)
        self.inflight = 0
        self.latency = 0.0
        self.failures = 0
        self.ejections = 0
        self.ejections_total = 0
        self.ejected_until: float | None = None
        # The state the observer last heard of, and whether the instance is still in its set.
        self.reported = HEALTHY
        self.member = True

    def load(self) -> float:
        """In-flight calls (counting the one to come) weighted by the latency average."""
        return (self.inflight + 1) * (self.latency or 1e-3)

    def state(self, now: float) -> str:
        return EJECTED if self.ejected_until is not None and now < self.ejected_until else HEALTHY


def _address(base_url: str) -> str:
    """``host:port`` of ``base_url`` (for logs and metrics), without any credentials."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port}" if parts.port else host


class InstanceObserver(Protocol):
    """Hears of one service's instances (metrics, logs). Each hook is cheap and must not raise."""

    def instance_changed(self, service: str, instance: Instance, event: str) -> None:
        """``instance`` was ``added``, ``removed``, ``ejected`` or is ``back`` (healthy)."""

    def instance_load(self, service: str, instance: Instance, delta: int) -> None:
        """An attempt on ``instance`` started (+1) or ended (-1); several instances only."""


ADDED, REMOVED, EJECTED_EVENT, BACK = "added", "removed", "ejected", "back"


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """One instance as status reports show it: ``id``, not its address."""

    id: str
    address: str
    state: str
    in_flight: int
    ejections: int
    # Seconds until the ejection ends; None while healthy.
    ejected_for: float | None


class InstanceSet:
    """The instances of one service (module docstring)."""

    def __init__(
        self,
        base_urls: Collection[str],
        policy: InstancePolicy,
        *,
        clock: Callable[[], float],
        rng: Callable[[], float],
        name: str = "upstream",
        observer: InstanceObserver | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("a service needs at least one instance")
        self.instances = [Instance(url) for url in dict.fromkeys(base_urls)]
        self.single = len(self.instances) == 1
        self.policy = policy
        self.name = name
        self.observer = observer
        self._clock = clock
        self._rng = rng

    def healthy(self) -> list[Instance]:
        """The instances not ejected now (an ejection whose backoff ended is over)."""
        now = self._clock()
        healthy = []
        for instance in self.instances:
            until = instance.ejected_until
            if until is None or now >= until:
                healthy.append(instance)
                if until is not None and instance.reported == EJECTED:
                    self._tell(instance, BACK)
        return healthy

    def all_down(self) -> bool:
        """Whether a failure that found no answer is the service's: with one instance
        always (its breaker speaks for it), with several only when none is healthy."""
        return self.single or not self.healthy()

    def choose(self, tried: Collection[Instance] = ()) -> Instance:
        """The instance for the next attempt: P2C over the healthy ones not yet tried."""
        instances = self.instances
        if self.single:
            return instances[0]
        healthy = self.healthy()
        candidates = [i for i in healthy if i not in tried] or healthy
        if not candidates:  # all ejected: the one whose ejection ends first
            return min(instances, key=lambda i: i.ejected_until or 0.0)
        if len(candidates) == 1:
            return candidates[0]
        count = len(candidates)
        first = int(self._rng() * count) % count
        second = (first + 1 + int(self._rng() * (count - 1)) % (count - 1)) % count
        a, b = candidates[first], candidates[second]
        return a if a.load() <= b.load() else b

    def started(self, instance: Instance) -> None:
        instance.inflight += 1
        if self.observer is not None and instance.member:
            self.observer.instance_load(self.name, instance, 1)

    def finished(self, instance: Instance, ok: bool, latency: float | None) -> None:
        """An attempt on ``instance`` ended: ``ok`` False for a connection failure or 5xx."""
        instance.inflight -= 1
        if self.observer is not None and instance.member:
            self.observer.instance_load(self.name, instance, -1)
        self._outcome(instance, ok)
        if latency is not None:
            instance.latency = (
                latency
                if instance.latency == 0.0
                else EWMA_ALPHA * latency + (1 - EWMA_ALPHA) * instance.latency
            )

    def probed(self, instance: Instance, ok: bool) -> None:
        """A health probe of ``instance`` ended: a success readmits an ejected instance at
        once; a failure of a healthy one counts toward its ejection as a failed call does
        (an ejected one's backoff runs on as it was)."""
        if ok or instance.state(self._clock()) == HEALTHY:
            self._outcome(instance, ok)

    def _outcome(self, instance: Instance, ok: bool) -> None:
        if ok:
            instance.failures = 0
            if instance.ejected_until is not None:
                instance.ejected_until = None
                instance.ejections = 0
                # Its latency average is from before (failures included): starting afresh
                # lets the balancer try it rather than shun it for its past.
                instance.latency = 0.0
                if instance.reported == EJECTED:
                    self._tell(instance, BACK)
            return
        instance.failures += 1
        policy = self.policy
        if instance.failures >= policy.eject_after:
            backoff = min(policy.eject_base * 2**instance.ejections, policy.eject_max)
            instance.ejections += 1
            instance.ejections_total += 1
            instance.failures = 0
            instance.ejected_until = self._clock() + backoff
            self._tell(instance, EJECTED_EVENT)

    def _tell(self, instance: Instance, event: str) -> None:
        """Record the state the observer hears of, and tell it (members of the set only)."""
        instance.reported = EJECTED if event == EJECTED_EVENT else HEALTHY
        if self.observer is not None and instance.member:
            self.observer.instance_changed(self.name, instance, event)

    def update(self, base_urls: Collection[str]) -> bool:
        """Make ``base_urls`` the set's instances (module docstring); an empty list changes
        nothing. True when the set changed."""
        wanted = list(dict.fromkeys(base_urls))
        if not wanted or wanted == [i.base_url for i in self.instances]:
            return False
        old = {i.base_url: i for i in self.instances}
        instances = [old.get(url) or Instance(url) for url in wanted]
        kept = set(wanted)
        dropped = [i for url, i in old.items() if url not in kept]
        added = [i for i in instances if i.base_url not in old]
        self.instances = instances
        self.single = len(instances) == 1
        for instance in dropped:
            instance.member = False
        observer = self.observer
        if observer is not None:
            for instance in dropped:
                observer.instance_changed(self.name, instance, REMOVED)
            for instance in added:
                observer.instance_changed(self.name, instance, ADDED)
        return True

    def status(self) -> list[InstanceStatus]:
        """Each instance as it is now, in the set's order."""
        now = self._clock()
        self.healthy()  # ejections that have run out are over
        return [
            InstanceStatus(
                id=i.id,
                address=i.address,
                state=i.state(now),
                in_flight=i.inflight,
                ejections=i.ejections_total,
                ejected_for=None
                if i.ejected_until is None or now >= i.ejected_until
                else i.ejected_until - now,
            )
            for i in self.instances
        ]
