from fractions import Fraction

import numpy as np
import pytest

from ml.track import box_iou, interpolate_boxes, loop_index, pad_box, pingpong_index, select_face, smooth_boxes
from ml.video import choose_fps, grid_start, loop_runs


def test_pad_box_pads_top_bottom_left_right_and_clamps():
    assert pad_box((10, 20, 50, 60), (0, 10, 0, 0), 320, 240) == (10, 20, 50, 70)
    assert pad_box((10, 20, 50, 60), (5, 6, 7, 8), 320, 240) == (3, 15, 58, 66)
    # Clamped to the frame on every side.
    assert pad_box((2, 3, 315, 236), (10, 10, 10, 10), 320, 240) == (0, 0, 320, 240)


def test_smoothing_is_a_centred_moving_average():
    boxes = np.zeros((9, 4))
    boxes[:, 0] = np.arange(9) * 10.0  # x1 moves steadily
    out = smooth_boxes(boxes, np.ones(9, bool), window=5)
    # A steady motion is unchanged by a centred window: no lead, no lag.
    np.testing.assert_allclose(out[:, 0], boxes[:, 0])
    step = np.zeros((7, 4))
    step[3:, 1] = 70.0
    sm = smooth_boxes(step, np.ones(7, bool), window=5)
    assert sm[:, 1].tolist() == pytest.approx([0, 0, 28, 42, 56, 70, 70])


def test_smoothing_stays_within_runs_of_faces():
    boxes = np.array([[0, 0, 10, 10]] * 3 + [[99, 99, 99, 99]] + [[50, 50, 60, 60]] * 3, float)
    valid = np.array([1, 1, 1, 0, 1, 1, 1], bool)
    out = smooth_boxes(boxes, valid, window=5)
    np.testing.assert_allclose(out[:3], boxes[:3])
    np.testing.assert_allclose(out[4:], boxes[4:])


def test_window_of_one_is_no_smoothing():
    boxes = np.random.default_rng(0).uniform(0, 100, (6, 4))
    np.testing.assert_array_equal(smooth_boxes(boxes, np.ones(6, bool), 1), boxes)


def test_pingpong_order_never_jumps():
    assert [pingpong_index(i, 4) for i in range(12)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert [pingpong_index(i, 1) for i in range(3)] == [0, 0, 0]
    assert [pingpong_index(i, 2) for i in range(5)] == [0, 1, 0, 1, 0]
    assert [loop_index(i, 3, "forward") for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    seq = [pingpong_index(i, 7) for i in range(50)]
    assert max(abs(a - b) for a, b in zip(seq, seq[1:])) == 1


def test_loop_runs_split_playback_into_monotone_runs():
    assert loop_runs(5, 20, 5, "pingpong") == [(3, 0), (1, 4), (3, 0), (1, 3)]
    assert loop_runs(5, 13, 5, "forward") == [(0, 4), (0, 2)]


def test_interpolation_between_key_frames():
    out = interpolate_boxes(np.array([0, 0, 10, 10]), np.array([10, 20, 30, 40]), 5)
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out[0], [2, 4, 14, 16])
    np.testing.assert_allclose(out[-1], [8, 16, 26, 34])


def test_select_face_takes_the_largest_then_follows_the_nearest():
    small = [100, 100, 140, 140, 0.9]
    big = [0, 0, 80, 80, 0.9]
    assert select_face(np.array([small, big]), None).tolist() == big[:4]
    prev = np.array([95.0, 98, 135, 138])
    assert select_face(np.array([big, small]), prev).tolist() == small[:4]
    assert select_face(np.zeros((0, 5)), prev) is None
    assert box_iou(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(1 / 3)


def test_frame_rates_are_kept_exact():
    ntsc = Fraction(30000, 1001)
    assert choose_fps(ntsc, ntsc) == ntsc
    assert choose_fps(Fraction(25), Fraction(25)) == 25
    # Variable frame rate: the average, snapped to a standard rate.
    assert choose_fps(Fraction(2997, 100), Fraction(90000)) == ntsc
    assert choose_fps(Fraction(1000, 49), Fraction(50)) == 20
    assert choose_fps(Fraction(1650, 100), Fraction(120)) == Fraction(33, 2)
    assert grid_start(Fraction(0), ntsc) == 0
    assert grid_start(Fraction(1001, 30000) * 7, ntsc) == 7
