"""Spotting: onset, apex and offset of expressions in a face's AU intensities, one frame at a time.

One causal algorithm serves both uses: offline (:func:`spot_face`, the whole track at once) and online
(:class:`FaceSpotter`, fed frame by frame, each event emitted as soon as it closes). Given the same AU values
and the same neutral noise level they find the same events.

Every window is set in milliseconds, and thresholds relative to the subject's own noise on the neutral
stretch, so the same settings work at 30 and at 200 fps. Per frame:

1. **gaps**: frames that quality flags mark (fast head motion, a light jump, blur, occlusion), with low
   tracking confidence or no face are not trusted, nor are the ``settle_ms`` after them (MediaPipe's video
   mode carries a disturbance over for about that long). An untrusted stretch of at most ``bridge_ms`` is
   bridged by linear interpolation between the frames around it (settling frames included); a longer one
   breaks the track: no event may span it. A candidate cut by it (its onset or offset in the gap) is dropped
   and counted as suppressed, unless only its offset fell in the gap and what was seen of it is already longer
   than ``micro_max_ms``: then it is a macro-expression for certain, reported with ``truncated`` set. Nor is it
   dropped when, after a gap of at most ``join_gap_ms``, an AU of it is still on and the whole, from the onset
   seen before the gap to the offset seen after it, lasts longer than ``micro_max_ms``: that is one
   macro-expression across the gap (its onset was seen; its kind is sure).
2. **smoothing**: a Gaussian (sigma ``smooth_ms``) over the frames within 2 sigma on either side; it adds
   a lag of 2 sigma (50 ms) and keeps onsets sharp (no one-sided filter drags them late).
3. **rest level**: the 10th percentile of each AU over the trailing ``baseline_ms`` is subtracted, so slow
   drifts (a lid that recovers slowly after a blink, a lasting head-pose offset) are not events.
4. **threshold**: each AU's neutral level + ``noise_k`` x its noise: the larger of the neutral stretch's
   robust spread (median and 1.4826 x MAD, so a movement caught in a short clip's neutral stretch does not
   raise it) and the robust spread of the trailing ``noise_window_ms``, never below
   ``min_level`` (FACS trace), nor below ``au_min_level`` for the AUs listed there (AU23 and AU09: 2,
   AU05 and AU25: 1.5).
5. **events**: each AU's ratio to its threshold, a blink's recovery tail taken out (``blink_recovery_ms``). An
   event starts when an AU crosses its threshold, at the frame where that AU rose above ``release`` x
   threshold, and lasts while any AU that crossed its threshold in it stays above ``release`` x threshold
   (dips under ``merge_gap_ms`` bridged): activity of other AUs below their thresholds neither starts an
   event nor holds one open. It counts if it lasts ``min_duration_ms``: ``micro`` up to ``micro_max_ms``, else
   ``macro``; ``blink`` (AU45 alone) when AU45 dominates at the apex.

Online, an event is known ``delay_ms`` after its offset at most (merge gap + smoothing lag, plus up to two frames; plus
``bridge_ms`` + ``settle_ms`` when a tracking gap follows the event).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from microexpr.facs import AU_CODES
from microexpr.types import Event

AU45 = AU_CODES.index("AU45")
AU45_MASK = np.arange(len(AU_CODES)) == AU45

REST_EVERY_S = 0.05  # the rest level (a slow drift) is recomputed every 50 ms, not every frame

# per-frame spotting state, as the frames table's `spot_state` column reports it
USED, BRIDGED, EXCLUDED = 0, 1, 2


@dataclass(frozen=True)
class SpotOptions:
    """Spotting settings (times in ms, thresholds in AU intensity or multiples of the neutral noise)."""

    smooth_ms: float = 25.0  # Gaussian sigma; the window reaches 2 sigma ahead, which is the added lag
    baseline_ms: float = 4000.0  # a trailing low percentile over this window is the rest level
    baseline_pct: float = 10.0
    noise_k: float = 4.0  # an AU is active above rest + noise_k x its noise ...
    noise_window_ms: float = (
        10000.0  # ... the larger of the neutral std and the robust spread over this window
    )
    min_level: float = 1.0  # ... and never below FACS trace level
    # ... or, for an AU whose measure responds at trace level to noise, never below this level: AU23's
    # lip-thickness rule reaches 1 on sub-pixel noise when the lips stretch (AU20, AU14) or the head moves;
    # AU05's lid rise is 0.6 px at intensity 5 for a 90 px inter-ocular distance; AU09's nose-side flow reads
    # about 1 under a slow 1.5 degree head turn and holds neighbouring expressions together; AU25's inner-lip
    # gap reads up to 0.9 under a 1 degree nod and 1.8 as the lips stretch at a smile's onset
    au_min_level: tuple[tuple[str, float], ...] = (("AU23", 2.0), ("AU05", 1.5), ("AU09", 2.0), ("AU25", 1.5))
    release: float = 0.5  # an event spans the frames above release x threshold around a peak (hysteresis)
    merge_gap_ms: float = 60.0  # dips shorter than this inside one movement are bridged
    bridge_ms: float = 100.0  # untrusted stretches up to this long are interpolated; longer ones break
    # an expression seen rising before a longer gap of at most this long and still on after it (an AU in common),
    # lasting longer than a micro-expression in all, is one macro-expression across the gap (its onset was seen)
    join_gap_ms: float = 800.0
    settle_ms: float = 150.0  # frames this soon after an untrusted one are not trusted (filter recovery)
    min_duration_ms: float = 40.0  # shorter blips are noise
    micro_max_ms: float = 500.0  # micro-expressions last at most this long (the research convention)
    min_confidence: float = 0.5  # tracking confidence below this makes a frame unusable
    neutral_ms: float = 500.0  # online without a given noise level: learn it from the first usable stretch
    # after a blink the landmarker's lids (and what moves with them) take up to ~1 s to settle: for at most
    # this long after AU45 falls back, an AU still up then counts as zero until it has come down once
    blink_recovery_ms: float = 1500.0
    blink_rebound_ms: float = 250.0  # ... and an AU that rises this soon after AU45 falls back is in the tail

    def __post_init__(self) -> None:
        for name in (
            "smooth_ms",
            "baseline_ms",
            "noise_window_ms",
            "merge_gap_ms",
            "bridge_ms",
            "join_gap_ms",
            "micro_max_ms",
            "blink_recovery_ms",
            "blink_rebound_ms",
        ):
            v = getattr(self, name)
            if not (0 <= v < 1e7):
                raise ValueError(f"{name} must be between 0 and 1e7 ms, but got {v}")
        if self.noise_k <= 0 or self.min_level <= 0 or not (0 < self.release <= 1):
            raise ValueError("noise_k and min_level must be positive and release in (0, 1]")
        for code, level in self.au_min_level:
            if code not in AU_CODES or not (0 < level <= 5):
                raise ValueError(f"au_min_level: {code!r} must be an AU code and {level} in (0, 5]")

    @property
    def floor(self) -> np.ndarray:
        """(n_au,) each AU's least threshold above its rest level."""
        f = np.full(len(AU_CODES), self.min_level)
        for code, level in self.au_min_level:
            f[AU_CODES.index(code)] = max(level, self.min_level)
        return f

    @property
    def delay_ms(self) -> float:
        """Longest wait from an event's offset to its emission online, plus up to two frames (no gap after it)."""
        return self.merge_gap_ms + 2.0 * self.smooth_ms


@dataclass(frozen=True)
class Noise:
    """A face's neutral level and noise per AU, measured on its neutral stretch after rest-level removal:
    the median and 1.4826 x the median absolute deviation (the standard deviation for Gaussian noise, but a
    movement that falls inside the stretch barely moves them)."""

    mean: np.ndarray  # (n_au,) the neutral level (a median)
    std: np.ndarray  # (n_au,) the noise (1.4826 x MAD)

    @staticmethod
    def of(detrended: np.ndarray) -> Noise:
        d = np.asarray(detrended, np.float64).reshape(-1, len(AU_CODES))
        if len(d) < 2:
            return Noise(np.zeros(len(AU_CODES)), np.zeros(len(AU_CODES)))
        med = np.median(d, 0)
        return Noise(med, 1.4826 * np.median(np.abs(d - med), 0))


@dataclass
class _Sample:
    frame: int
    t_s: float
    x: np.ndarray  # raw AU values (n_au,)
    usable: bool
    state: int = USED


class _Conditioner:
    """Stages 1-3: gap bridging, smoothing with a bounded look-ahead, trailing rest level."""

    def __init__(self, opts: SpotOptions) -> None:
        self.o = opts
        self.held: list[_Sample] = []  # untrusted frames waiting to be bridged
        self.last_usable: _Sample | None = None
        self.gap_start = self.gap_last = 0.0  # first and last untrusted frame of the current gap
        self.broken = False  # the current gap is too long to bridge
        self.window: deque[_Sample] = deque()  # samples awaiting smoothing (+ the 2-sigma past they need)
        self.pending = 0  # index in window of the next sample to smooth
        self.rest: deque[tuple[float, np.ndarray]] = deque()  # (t_s, smoothed) over the baseline window
        self.level: np.ndarray | None = None  # the latest rest level ...
        self.level_t = -np.inf  # ... computed at this time

    def push(self, s: _Sample) -> list[tuple[_Sample, np.ndarray]]:
        out: list[tuple[_Sample, np.ndarray]] = []
        for ready in self._bridge(s):
            out += self._smooth(ready)
        return out

    def finish(self) -> list[tuple[_Sample, np.ndarray]]:
        out: list[tuple[_Sample, np.ndarray]] = []
        for h in self._release(excluded=True):  # a gap at the end is never bridged
            out += self._smooth(h)
        while self.pending < len(self.window):
            out.append(self._emit_next())
        return out

    def _bridge(self, s: _Sample) -> list[_Sample]:
        """Hold untrusted frames (and the ``settle_ms`` after them, while the landmarker's filter recovers)
        until the gap closes; then interpolate them if the untrusted stretch lasted at most ``bridge_ms``."""
        o = self.o
        if not s.usable:
            if not self.held:
                self.gap_start = s.t_s
            self.gap_last = s.t_s
            self.held.append(s)
            if self.broken or (s.t_s - self.gap_start) * 1000.0 > o.bridge_ms + 1e-6:
                self.broken = True  # too long to bridge: let go of what was held, as excluded
                return self._release(excluded=True)
            return []
        if self.held or self.broken:
            if (s.t_s - self.gap_last) * 1000.0 < o.settle_ms - 1e-6:
                self.held.append(s)  # still settling after the gap
                return self._release(excluded=True) if self.broken else []
            out = self._release(excluded=self.broken or self.last_usable is None, until=s)
            self.broken = False
            self.last_usable = s
            return out + [s]
        self.last_usable = s
        return [s]

    def _release(self, *, excluded: bool, until: _Sample | None = None) -> list[_Sample]:
        held, self.held = self.held, []
        a = self.last_usable
        for h in held:
            if excluded or a is None or until is None:
                h.usable, h.state = False, EXCLUDED
            else:
                w = (h.t_s - a.t_s) / max(until.t_s - a.t_s, 1e-9)
                h.x = (1.0 - w) * a.x + w * until.x
                h.usable, h.state = True, BRIDGED
        return held

    def _smooth(self, s: _Sample) -> list[tuple[_Sample, np.ndarray]]:
        self.window.append(s)
        reach = 2.0 * self.o.smooth_ms / 1000.0
        out = []
        while self.pending < len(self.window) and self.window[self.pending].t_s + reach <= s.t_s + 1e-9:
            out.append(self._emit_next())
        return out

    def _emit_next(self) -> tuple[_Sample, np.ndarray]:
        reach = 2.0 * self.o.smooth_ms / 1000.0
        c = self.window[self.pending]
        while self.window and self.window[0].t_s < c.t_s - reach - 1e-9:
            self.window.popleft()
            self.pending -= 1
        if c.state == EXCLUDED:  # not trusted: raw value over the last rest level, only to count suppression
            self.pending += 1
            return c, np.maximum(c.x - (self.level if self.level is not None else 0.0), 0.0)
        sigma = max(self.o.smooth_ms / 1000.0, 1e-9)
        acc, wsum = np.zeros_like(c.x), 0.0
        for s in self.window:
            if s.state == EXCLUDED or abs(s.t_s - c.t_s) > reach + 1e-9:
                continue
            w = float(np.exp(-0.5 * ((s.t_s - c.t_s) / sigma) ** 2))
            acc += w * s.x
            wsum += w
        xs = acc / wsum
        self.pending += 1
        rest = self.rest
        rest.append((c.t_s, xs))
        while rest and rest[0][0] < c.t_s - self.o.baseline_ms / 1000.0 - 1e-9:
            rest.popleft()
        if self.level is None or c.t_s - self.level_t >= REST_EVERY_S:  # a percentile is not free
            self.level = np.percentile(np.array([r[1] for r in rest]), self.o.baseline_pct, axis=0)
            self.level_t = c.t_s
        return c, np.maximum(xs - self.level, 0.0)


@dataclass
class _Run:
    start: _Sample
    last_active: _Sample
    peak: float = 0.0
    apex: _Sample | None = None
    apex_ratio: np.ndarray | None = None
    after_gap: bool = False
    aus: np.ndarray = field(default_factory=lambda: np.zeros(len(AU_CODES), bool))  # AUs that crossed in it


@dataclass
class SpotTrack:
    """Offline spotting of one face: its events, candidates suppressed, and each row's state."""

    events: list[Event]
    suppressed: int
    state: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.int8)
    )  # USED, BRIDGED or EXCLUDED per row


class FaceSpotter:
    """Causal spotter of one face: push frames in time order, get each event as soon as it closes.

    Args:
        face_id: the face.
        opts: settings.
        noise: the face's neutral noise (from :meth:`Noise.of` on the neutral stretch's conditioned values);
            None learns it from the first ``neutral_ms`` of usable frames (no events before that).
        neutral_frames: instead of ``noise``, the frame indices of the face's neutral stretch: frames are
            held until the last of them is conditioned, then the noise is measured on them and the held frames
            are spotted, exactly as :func:`spot_face` does over a whole track.
    """

    def __init__(
        self,
        face_id: int,
        opts: SpotOptions | None = None,
        noise: Noise | None = None,
        neutral_frames: np.ndarray | None = None,
    ) -> None:
        self.face_id = face_id
        self.o = opts if opts is not None else SpotOptions()
        self.noise = noise
        self._neutral = None if noise is not None or neutral_frames is None else set(map(int, neutral_frames))
        self._neutral_last = max(self._neutral) if self._neutral else -1
        self._neutral_ok: set[int] = set()  # neutral frames pushed as usable
        self._held: list[tuple[_Sample, np.ndarray]] = []  # conditioned, waiting for the noise
        self._cond = _Conditioner(self.o)
        self._floor = self.o.floor
        self._learn: list[tuple[float, np.ndarray]] = []
        self._spread: deque[tuple[float, np.ndarray]] = deque()
        self._robust = np.zeros(len(AU_CODES))
        self._robust_t = -np.inf
        self._run: _Run | None = None
        self._cut: _Run | None = None  # the last run a gap cut and dropped, while a continuation may join it
        self._prev: _Sample | None = None
        self._in_suppressed = False
        self._blink_on = False
        n = len(AU_CODES)
        self._since: list[_Sample | None] = [None] * n  # first frame of each AU's stretch above release ...
        self._since_gap = np.zeros(n, bool)  # ... whether a gap came just before it
        self._last: list[_Sample | None] = [None] * n  # each AU's last frame above release
        self._tail: np.ndarray | None = None  # (n_au,) bool: AUs still in the last blink's recovery tail
        self._tail_done = np.zeros(n, bool)  # AUs that have left it
        self._tail_t = 0.0
        self.suppressed = 0
        self.states: list[int] = []  # per pushed frame, in time order, once conditioned

    def push(self, frame: int, t_s: float, au: np.ndarray, usable: bool = True) -> list[Event]:
        """Add one frame of AU intensities (n_au,); NaN or ``usable=False`` marks it untrusted."""
        x = np.asarray(au, np.float64)
        ok = bool(usable) and bool(np.isfinite(x).all())
        s = _Sample(int(frame), float(t_s), np.nan_to_num(x), ok)
        if ok and self._neutral is not None and s.frame in self._neutral:
            self._neutral_ok.add(s.frame)
        out: list[Event] = []
        for c, d in self._cond.push(s):
            out += self._take(c, d)
        return out

    def _take(self, c: _Sample, d: np.ndarray, last: bool = False) -> list[Event]:
        if self._neutral is None:
            return self._detect(c, d)
        self._held.append((c, d))  # the neutral stretch is not all conditioned yet
        if c.frame < self._neutral_last and not last:
            return []
        ok = [v for s, v in self._held if s.frame in self._neutral_ok]
        usable = [v for s, v in self._held if s.usable]
        self.noise = Noise.of(
            np.array(ok if len(ok) > 1 else usable if len(usable) > 1 else [v for _, v in self._held])
        )
        self._neutral, held, self._held = None, self._held, []
        out: list[Event] = []
        for s, v in held:
            out += self._detect(s, v)
        return out

    def finish(self) -> list[Event]:
        """Flush at the end of the track: events still open are closed."""
        out: list[Event] = []
        for c, d in self._cond.finish():
            out += self._take(c, d)
        if self._neutral is not None and self._held:
            out += self._take(*self._held.pop(), last=True)
        if self._run is not None:
            out += self._close(cut=False)
        return out

    # -- stage 4 and 5 ------------------------------------------------------------------------------

    def _threshold(self, t_s: float, d: np.ndarray) -> np.ndarray | None:
        o = self.o
        if self.noise is None:
            self._learn.append((t_s, d))
            if (t_s - self._learn[0][0]) * 1000.0 < o.neutral_ms:
                return None
            self.noise = Noise.of(np.array([v for _, v in self._learn]))
            self._learn = []
        sp = self._spread
        sp.append((t_s, d))
        while sp and sp[0][0] < t_s - o.noise_window_ms / 1000.0 - 1e-9:
            sp.popleft()
        if t_s - self._robust_t >= 0.5 and len(sp) > 10:  # refreshed twice a second: a median is not free
            v = np.array([r[1] for r in sp])
            self._robust = 1.4826 * np.median(np.abs(v - np.median(v, 0)), 0)
            self._robust_t = t_s
        return self._current_threshold()

    def _current_threshold(self) -> np.ndarray | None:
        if self.noise is None:
            return None
        o = self.o
        return np.maximum(self.noise.mean + o.noise_k * np.maximum(self.noise.std, self._robust), self._floor)

    def _detect(self, c: _Sample, d: np.ndarray) -> list[Event]:
        self.states.append(c.state)
        out: list[Event] = []
        prev, self._prev = self._prev, c
        if prev is not None and (c.t_s - prev.t_s) * 1000.0 > self.o.bridge_ms + 1e-6:
            if self._run is not None:  # frames missing for longer than a bridge: a gap like any other
                out += self._close(cut=True)
            self._forget()
            prev = _Sample(prev.frame, prev.t_s, prev.x, False, EXCLUDED)
        if c.state == EXCLUDED:
            cut = self._run is not None
            if cut:  # the event in progress is cut here (counted by _close if it is dropped)
                out += self._close(cut=True)
            self._forget()
            thr = self._current_threshold()
            if thr is not None and float((d / thr).max()) >= 1.0 and not self._in_suppressed:
                self.suppressed += int(not cut)  # a candidate the untrusted frames hide
                self._in_suppressed = True
            return out
        self._in_suppressed = False
        thr = self._threshold(c.t_s, d)
        if thr is None:
            return out
        o = self.o
        ratio = self._after_blink(c.t_s, d / thr)
        above = ratio >= o.release
        after_gap = prev is not None and prev.state == EXCLUDED
        for k in range(len(ratio)):  # each AU's own stretch above release, dips under merge_gap_ms bridged
            last = self._last[k]
            near = last is not None and (c.t_s - last.t_s) * 1000.0 <= o.merge_gap_ms + 1e-6
            if above[k]:
                if not near or self._since[k] is None:
                    self._since[k], self._since_gap[k] = c, after_gap
                self._last[k] = c
            elif not near:
                self._since[k] = None
        run = self._run
        if run is not None and (c.t_s - run.last_active.t_s) * 1000.0 > o.merge_gap_ms + 1e-6:
            out += self._close(cut=False)
            run = None
        crossing = ratio >= 1.0
        if ratio[AU45] >= o.release:
            crossing &= AU45_MASK  # during a blink the lids drag other AUs over their thresholds: not theirs
            since45 = self._since[AU45]
            if run is not None and crossing[AU45] and not run.aus[AU45]:
                if since45 is not None and (since45.t_s - run.start.t_s) * 1000.0 > o.micro_max_ms:
                    # a blink inside a longer expression ends it (the blink is not its apex)
                    out += self._close(cut=False)
                    run, self._since[AU45] = None, since45
                else:  # a shorter run leading into a blink is the lids starting to move: it is the blink's,
                    # from where AU45 rose (not where another AU began to rise: a brow lowered before it)
                    run.aus[:] = False
                    if since45 is not None and since45.t_s > run.start.t_s:
                        run.start = since45
        if run is None and crossing.any():
            # an event starts where the AU that crossed its threshold first rose above release: activity of
            # other AUs below their thresholds neither starts an event nor holds one open
            starts = [k for k in np.flatnonzero(crossing) if self._since[k] is not None]
            k0 = min(starts, key=lambda k: self._since[k].t_s) if starts else int(np.argmax(crossing))
            on = self._since[k0] or c
            run = self._run = _Run(on, c, after_gap=bool(self._since_gap[k0]) if starts else after_gap)
        if run is not None:
            run.aus |= crossing
            own = ratio[run.aus]
            # a blink lasts while AU45 is over its threshold: its huge range falls steeply there, while the
            # lower half of its fall is where landmarkers disagree (two alternating live trackers by frames)
            if (own >= np.where(AU45_MASK[run.aus], 1.0, o.release)).any():
                run.last_active = c
            score = float(own.max())
            if score > run.peak:
                run.peak, run.apex, run.apex_ratio = score, c, ratio
        return out

    def _forget(self) -> None:
        """A gap breaks every AU's stretch: nothing before it may become an onset."""
        self._since = [None] * len(self._since)
        self._last = [None] * len(self._last)

    def _after_blink(self, t_s: float, ratio: np.ndarray) -> np.ndarray:
        """Each AU's ratio with a blink's recovery tail taken out (see ``SpotOptions.blink_recovery_ms``)."""
        o = self.o
        if ratio[AU45] >= o.release:
            self._blink_on, self._tail = True, None
            return ratio
        up = ratio >= o.release
        if self._blink_on:  # AU45 just fell back: the AUs still up are in its tail
            self._blink_on, self._tail, self._tail_t = False, up.copy(), t_s
            self._tail_done = np.zeros_like(up)
        if self._tail is None:
            return ratio
        since_ms = (t_s - self._tail_t) * 1000.0
        if since_ms <= o.blink_rebound_ms:  # the lids overshoot as they reopen: what rises now is the blink's
            self._tail |= up & ~self._tail_done
        down = self._tail & ~up  # an AU leaves the tail once it has come down
        self._tail_done |= down
        self._tail &= ~down
        if (not self._tail.any() and since_ms > o.blink_rebound_ms) or since_ms > o.blink_recovery_ms:
            self._tail = None
            return ratio
        return np.where(self._tail, 0.0, ratio)

    def _close(self, *, cut: bool) -> list[Event]:
        run, self._run = self._run, None
        self._since = [None] * len(self._since)  # the next event starts after this one
        if run is None or run.peak < 1.0 or run.apex is None or run.apex_ratio is None:
            return []
        on, off, apex = run.start, run.last_active, run.apex
        duration_ms = (off.t_s - on.t_s) * 1000.0
        if duration_ms < self.o.min_duration_ms:
            return []
        ratio = run.apex_ratio
        involved = np.flatnonzero(ratio >= 1.0)
        if int(np.argmax(np.where(run.aus, ratio, -np.inf))) == AU45:  # of the AUs that made it
            kind, involved = "blink", np.array([AU45])  # what moves with the lids is not reported
        else:
            kind = "micro" if duration_ms <= self.o.micro_max_ms else "macro"
            involved = involved[involved != AU45]
        cut_before, self._cut = self._cut, None
        if run.after_gap and cut_before is not None and kind != "blink":
            joined = self._joined(cut_before, run, cut)
            if joined is not None:
                return joined
        if cut and kind != "macro" and not run.after_gap:
            self._cut = run  # dropped, unless what follows the gap turns out to continue it
        if run.after_gap or (cut and kind != "macro"):
            # its onset fell in a gap (where it began, and so its apex, are unknown), or its offset did and its
            # kind is unknown: never invent an event across a gap, nor guess a kind. An event whose offset alone
            # fell in the gap and that was already longer than a micro-expression is a macro for certain: it is
            # reported, truncated at the last frame seen
            self.suppressed += 1
            return []
        return [self._event(kind, on, apex, off, run.peak, involved, cut)]

    def _joined(self, before: _Run, after: _Run, cut: bool) -> list[Event] | None:
        """``before`` (cut by a gap and dropped) and ``after`` (begun in the gap) as one macro-expression across
        the gap, when the gap is at most ``join_gap_ms``, they share an AU, and from the onset seen before the gap
        to the offset seen after it they last longer than a micro-expression. None otherwise. ``cut``: a gap cut
        ``after`` too (the joined event is then ``truncated``)."""
        gap_ms = (after.start.t_s - before.last_active.t_s) * 1000.0
        total_ms = (after.last_active.t_s - before.start.t_s) * 1000.0
        if (
            gap_ms > self.o.join_gap_ms + 1e-6
            or total_ms <= self.o.micro_max_ms
            or not (before.aus & after.aus).any()
        ):
            return None
        apex, peak, ratio = (
            (after.apex, after.peak, after.apex_ratio)
            if after.peak >= before.peak
            else (before.apex, before.peak, before.apex_ratio)
        )
        if apex is None or ratio is None:  # both runs closed with an apex; this only narrows the types
            return None
        self.suppressed -= 1  # the part before the gap was counted when the gap cut it: it is not suppressed
        involved = np.flatnonzero((ratio >= 1.0) & ~AU45_MASK)
        return [self._event("macro", before.start, apex, after.last_active, peak, involved, cut)]

    def _event(
        self,
        kind: str,
        on: _Sample,
        apex: _Sample,
        off: _Sample,
        peak: float,
        involved: np.ndarray,
        cut: bool,
    ) -> Event:
        conf = float(np.clip(1.0 - 1.0 / max(peak, 1e-6), 0.0, 1.0))
        return Event(
            self.face_id,
            kind,
            on.frame,
            apex.frame,
            off.frame,
            on.t_s,
            apex.t_s,
            off.t_s,
            tuple(AU_CODES[i] for i in involved),
            None,
            round(conf, 3),
            cut,
        )


def condition(
    t_s: np.ndarray, au: np.ndarray, usable: np.ndarray, opts: SpotOptions = SpotOptions()
) -> tuple[np.ndarray, np.ndarray]:
    """Stages 1-3 over a whole track: (conditioned AU values (T, n_au), state (T,)) in row order."""
    got = _conditioned(np.arange(len(t_s)), t_s, au, usable, opts)
    d = np.array([v for _, v in got]).reshape(len(t_s), au.shape[1])
    return d, np.array([s.state for s, _ in got], np.int8)


def _conditioned(
    frame: np.ndarray, t_s: np.ndarray, au: np.ndarray, usable: np.ndarray, opts: SpotOptions
) -> list[tuple[_Sample, np.ndarray]]:
    """(sample, conditioned AU values) of every row, in row order (the conditioner keeps the order)."""
    cond = _Conditioner(opts)
    got: list[tuple[_Sample, np.ndarray]] = []
    for i in range(len(t_s)):
        got += cond.push(_Sample(int(frame[i]), float(t_s[i]), np.nan_to_num(au[i]), bool(usable[i])))
    return got + cond.finish()


def spot_face(
    face_id: int,
    frame: np.ndarray,
    t_s: np.ndarray,
    au: np.ndarray,
    usable: np.ndarray,
    neutral_rows: np.ndarray,
    opts: SpotOptions = SpotOptions(),
) -> SpotTrack:
    """Events of one face over its whole track (the online algorithm, with the neutral stretch's noise).

    Args:
        face_id: the face.
        frame: (T,) frame indices of the face's rows.
        t_s: (T,) times in seconds, increasing.
        au: (T, n_au) AU intensities (NaN where not tracked).
        usable: (T,) bool, False where flags or low confidence make the frame untrustworthy.
        neutral_rows: positions of the neutral stretch (for each AU's noise level).
        opts: settings.
    """
    n = len(t_s)
    if n < 3:
        return SpotTrack([], 0, np.zeros(n, np.int8))
    au = np.asarray(au, np.float64)
    usable = np.asarray(usable, bool) & np.isfinite(au).all(1)
    got = _conditioned(frame, t_s, au, usable, opts)  # conditioned once: noise first, then the events
    d = np.array([v for _, v in got])
    nr = np.asarray(neutral_rows, int)
    nr = nr[usable[nr]] if len(nr) else nr
    noise = Noise.of(d[nr] if len(nr) > 1 else d[usable] if usable.sum() > 1 else d)
    sp = FaceSpotter(face_id, opts, noise)
    events: list[Event] = []
    for c, v in got:  # the same detection as FaceSpotter.push, on the samples conditioned above
        events += sp._detect(c, v)
    events += sp.finish()
    return SpotTrack(events, sp.suppressed, np.asarray(sp.states, np.int8))
