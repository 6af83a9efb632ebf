"""One service's set of instances: power-of-two-choices balancing and outlier ejection.

A service's URL setting may list several base URLs; each is an ``Instance``. An attempt
picks one with ``InstanceSet.choose``: two distinct healthy candidates drawn at random, the
one with the lower load wins, load being in-flight calls weighted by the recent latency
(an exponentially weighted moving average). Instances already tried in the same call are
avoided while others are healthy (failover). ``finished`` reports an attempt's outcome:
``eject_after`` consecutive failures (connection failures or 5xx) eject an instance for a
backoff that doubles from ``eject_base`` up to ``eject_max`` seconds; a success readmits it
and resets the backoff. When every instance is ejected the least recently ejected one is
used anyway: the service's breaker, not the instance set, decides that a service is down.

With one instance ``choose`` returns it at once and no accounting is done: the default
single-URL path costs nothing measurable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from upstreams.config import InstancePolicy

# Weight of the newest latency sample in the moving average.
EWMA_ALPHA = 0.3
HEALTHY, EJECTED = "healthy", "ejected"


class Instance:
    """One base URL of a service and what the balancer knows of it."""

    __slots__ = ("base_url", "ejected_until", "ejections", "failures", "inflight", "latency")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.inflight = 0
        self.latency = 0.0
        self.failures = 0
        self.ejections = 0
        self.ejected_until: float | None = None

    def load(self) -> float:
        """In-flight calls (counting the one to come) weighted by the latency average."""
        return (self.inflight + 1) * (self.latency or 1e-3)

    def state(self, now: float) -> str:
        return EJECTED if self.ejected_until is not None and now < self.ejected_until else HEALTHY


class InstanceSet:
    """The instances of one service (module docstring)."""

    def __init__(
        self,
        base_urls: Collection[str],
        policy: InstancePolicy,
        *,
        clock: Callable[[], float],
        rng: Callable[[], float],
    ) -> None:
        if not base_urls:
            raise ValueError("a service needs at least one instance")
        self.instances = [Instance(url) for url in base_urls]
        self.single = len(self.instances) == 1
        self.policy = policy
        self._clock = clock
        self._rng = rng

    def healthy(self) -> list[Instance]:
        now = self._clock()
        return [i for i in self.instances if i.state(now) == HEALTHY]

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

    def finished(self, instance: Instance, ok: bool, latency: float | None) -> None:
        """An attempt on ``instance`` ended: ``ok`` False for a connection failure or 5xx."""
        instance.inflight -= 1
        if latency is not None:
            instance.latency = (
                latency
                if instance.latency == 0.0
                else EWMA_ALPHA * latency + (1 - EWMA_ALPHA) * instance.latency
            )
        if ok:
            instance.failures = 0
            if instance.ejected_until is not None:
                instance.ejected_until = None
                instance.ejections = 0
            return
        instance.failures += 1
        policy = self.policy
        if instance.failures >= policy.eject_after:
            backoff = min(policy.eject_base * 2**instance.ejections, policy.eject_max)
            instance.ejections += 1
            instance.failures = 0
            instance.ejected_until = self._clock() + backoff
