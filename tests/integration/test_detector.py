"""Detector: letterbox and decode math, and the real model on real frames."""

import cv2
import numpy as np
import pytest

from edge.config import DetectorSettings
from edge.vision.detections import within
from edge.vision.detector import Detector, YoloxDecoder, input_size, letterbox
from models.derive import derive
from models.registry import ModelError, sha256_of, spec


def test_letterbox_scales_into_the_top_left_and_pads_with_114():
    frame = np.full((360, 480, 3), 7, np.uint8)
    blob, r = letterbox(frame, (416, 416))
    assert blob.shape == (1, 3, 416, 416) and blob.dtype == np.float32
    assert r == pytest.approx(416 / 480)
    assert blob[0, :, 311, 0].tolist() == [7, 7, 7] and blob[0, :, 313, 0].tolist() == [114, 114, 114]


def test_decode_turns_one_grid_cell_into_a_box_in_image_pixels():
    dec = YoloxDecoder(spec("yolox-nano"), score_threshold=0.3, nms_iou=0.45)
    out = np.zeros((3549, 85), np.float32)
    row = 52 * 52 + 26 * 5 + 10  # stride 16 grid, x=10, y=5
    out[row, :6] = [0.5, 0.5, np.log(2), np.log(4), 0.9, 0.8]  # centre (168, 88), 32 x 64 network px
    out[row + 1, :6] = [0.5, 0.5, np.log(2), np.log(4), 0.9, 0.1]  # not a person: score 0.09
    d = dec(out, 0.5, (360, 480, 3))
    assert len(d) == 1 and d.score[0] == pytest.approx(0.72)
    assert d.xyxy[0].tolist() == pytest.approx([304, 112, 368, 240])


@pytest.fixture(scope="module")
def detector(model_path):
    return Detector(DetectorSettings(model_path=model_path, score_threshold=0.3, threads=2))


@pytest.fixture(scope="module")
def pets_frames(pets_video):
    cap = cv2.VideoCapture(str(pets_video))
    frames = {}
    for i in range(1, 601):
        ok, f = cap.read()
        assert ok
        frames[i] = f
    cap.release()
    return frames


@pytest.mark.parametrize("index, people", [(1, 4), (200, 9), (600, 7)])
def test_real_model_finds_the_people_in_pets_frames(detector, pets_frames, index, people):
    # counts checked by eye (../shared/data/models/README.md), score >= 0.3, NMS IoU 0.45
    d = detector(pets_frames[index])
    assert len(d) == people
    assert (d.xyxy[:, 3] - d.xyxy[:, 1] > d.xyxy[:, 2] - d.xyxy[:, 0]).all()  # standing people: tall boxes
    assert d.xyxy.min() >= 0 and d.xyxy[:, [0, 2]].max() <= 480 and d.xyxy[:, [1, 3]].max() <= 360


def test_providers_fall_back_to_cpu(detector):
    assert detector.providers[-1] == "CPUExecutionProvider"


def test_input_size_keeps_the_shipped_scale_for_small_frames_scales_large_ones_and_never_pads():
    assert input_size((360, 480), (416, 416), "auto", 0.65) == (320, 416)  # at the letterbox scale, no padding
    assert input_size((416, 416), (416, 416), "auto", 0.65) == (416, 416)  # the shipped graph as it is
    assert input_size((720, 1280), (416, 416), "auto", 0.65) == (480, 832)  # the frame's aspect at 0.65
    assert input_size((370, 1224), (416, 416), "auto", 0.65) == (256, 800)
    assert input_size((720, 1280), (416, 416), "640x640", 0.65) == (640, 640)


def test_a_wide_frame_is_detected_at_its_own_aspect_through_the_derived_graph(model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path))
    wide = Detector(DetectorSettings(model_path=model_path, score_threshold=0.3))
    frame = np.zeros((720, 1280, 3), np.uint8)
    assert len(wide(frame)) == 0 and (tmp_path / "models/yolox_nano_dynamic.onnx").is_file()
    assert sha256_of(tmp_path / "models/yolox_nano_dynamic.onnx") == spec("yolox-nano-dynamic").sha256


def test_a_larger_input_finds_at_least_the_people_the_shipped_graph_finds(model_path, pets_frames, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path))
    shipped = Detector(DetectorSettings(model_path=model_path, score_threshold=0.3))
    bigger = Detector(DetectorSettings(model_path=model_path, score_threshold=0.3, input_size="480x640"))
    for i, people in ((1, 4), (200, 9), (600, 7)):  # as counted by eye above
        assert len(shipped(pets_frames[i])) == people and len(bigger(pets_frames[i])) >= people


def test_a_derived_graph_must_come_from_the_manifests_file(tmp_path, model_path):
    from edge.errors import UserError

    other = tmp_path / "yolox_nano.onnx"
    other.write_bytes(model_path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ModelError, match="the manifest expects"):
        derive(other, spec("yolox-nano-dynamic"), tmp_path / "out.onnx")
    with pytest.raises(UserError, match="multiples of 32"):
        from edge.config import parse_config

        parse_config('[model]\ninput_size = "500x700"\n')


def test_a_crop_finds_its_people_where_the_whole_frame_does_and_drops_those_its_edge_cuts(detector, pets_frames,
                                                                                         tmp_path, monkeypatch):
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path))
    image = pets_frames[200]
    whole = detector(image)
    x0, y0, x1, y1 = (int(v) for v in whole.xyxy[0])
    h = y1 - y0
    crop = (max(0, x0 - h // 2), max(0, y0 - h // 2), min(480, x1 + h // 2), min(360, y1 + h // 2))
    found = detector.region(image, crop)
    assert len(found) >= 1
    assert np.abs(found.xyxy - whole.xyxy[0]).max(axis=1).min() <= 4  # the same person, to a few pixels
    assert len(found) <= within(whole.xyxy, crop).sum() + 1  # nobody but who is in it (one may be half in)
    through = detector.region(image, (x0 + 10, 0, 480, 360))  # its left edge cuts the first person
    assert not (np.abs(through.xyxy - whole.xyxy[0]).max(axis=1) <= 4).any()
    assert (through.xyxy[:, 0] > x0 + 12).all()
