import numpy as np

from microexpr.track.ids import FaceTracker
from microexpr.types import FaceObservation


def _face(centre, scale, rng_seed):
    rng = np.random.default_rng(rng_seed)  # a different seed is a differently shaped face
    base = rng.normal(size=(478, 3)) * 0.25
    base[[33, 133, 362, 263], 0] = [-1.0, -0.4, 0.4, 1.0]
    base[[33, 133, 362, 263], 1] = 0.0
    pts = base * scale + np.array([centre[0], centre[1], 0.0])
    return FaceObservation(-1, pts.astype(np.float32), np.zeros(52, np.float32), np.eye(4, dtype=np.float32))


def test_ids_survive_order_swaps_motion_and_a_short_loss():
    tr = FaceTracker()
    ids_a, ids_b = [], []
    for k in range(90):
        t = k / 30
        a = _face((150 + 2 * k, 200), 40, 1)
        b = _face((450 - k, 210), 40, 2)
        faces = [b, a] if k % 3 == 0 else [a, b]  # the landmarker's order is not stable
        if 40 <= k < 60:  # face b is occluded for 0.67 s
            faces = [a]
        out = tr.update(t, faces)
        for f in out:
            if abs(f.landmarks_px[:, 0].mean() - (150 + 2 * k)) < 30:
                ids_a.append(f.face_id)
            else:
                ids_b.append(f.face_id)
    assert set(ids_a) == {ids_a[0]}
    assert set(ids_b) == {ids_b[0]}
    assert ids_a[0] != ids_b[0]


def test_a_new_person_gets_a_new_id_after_the_old_one_expired():
    tr = FaceTracker(max_lost_s=1.0)
    first = tr.update(0.0, [_face((200, 200), 40, 1)])[0].face_id
    later = tr.update(5.0, [_face((200, 200), 40, 3)])[0].face_id
    assert later != first


def test_no_faces_gives_no_ids():
    assert FaceTracker().update(0.0, []) == []
