"""Image-sequence folders (as datasets store them) and photos."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
from PIL import Image

from microexpr.errors import InputError, OptionError
from microexpr.io import natural_key, open_source, read_image

from .conftest import H, W, gradient, identify, write_images


def test_natural_key_compares_numbers_as_numbers():
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "Img3.jpg", "img100.jpg", "img20.jpg"]
    assert sorted(names, key=natural_key) == [
        "img1.jpg",
        "img2.jpg",
        "Img3.jpg",
        "img10.jpg",
        "img20.jpg",
        "img100.jpg",
    ]
    assert sorted(["a.jpg", "10.jpg", "9.jpg"], key=natural_key) == ["9.jpg", "10.jpg", "a.jpg"]


@pytest.mark.parametrize(
    "pattern",
    ["img{}.jpg", "reg_img{}.jpg", "006_{:05d}.jpg", "{}.png"],
    ids=["casme2", "casme2-cropped", "samm", "casme3"],
)
def test_sequence_folder_is_read_in_natural_order_with_times_from_fps(tmp_path, pattern):
    numbers = [*range(46, 58), 100, 101]  # as text "img100" < "img46": natural order puts it last
    names = [pattern.format(k) for k in numbers]
    folder = write_images(tmp_path / "EP02_01f", names)
    shuffled = names[:]
    random.Random(0).shuffle(shuffled)
    for name in shuffled:  # modification times and directory order must not matter
        (folder / name).touch()
    with open_source(folder, fps=200) as src:
        frames = list(src)
        assert src.kind == "sequence"
        assert (src.info.fps, src.info.frame_count, src.info.width, src.info.height) == (200.0, 14, W, H)
        assert src.info.codec == "image-sequence"
        assert src.info.duration_s == pytest.approx(14 / 200)
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
        assert len(src.warnings) == 1 and "jump 1 time(s) (first 57 -> 100)" in src.warnings[0]
    assert [f.name for f in frames] == names
    assert [f.index for f in frames] == list(range(14))
    assert [f.t_s for f in frames] == [k / 200 for k in range(14)]
    assert [identify(f.image, 14) for f in frames] == list(range(14))
    assert frames[0].image.dtype == np.uint8 and not frames[0].image.flags.writeable


def test_sequence_without_fps_asks_for_it(tmp_path):
    folder = write_images(tmp_path / "sub01", ["img1.jpg", "img2.jpg"])
    with pytest.raises(InputError) as e:
        open_source(folder)
    msg = str(e.value)
    assert str(folder) in msg and "--fps" in msg and "CASME II" in msg and "200" in msg


@pytest.mark.parametrize("fps", [0, -30.0, float("nan")])
def test_sequence_with_a_bad_fps(tmp_path, fps):
    folder = write_images(tmp_path / "seq", ["img1.jpg"])
    with pytest.raises(OptionError, match="--fps must be a positive number"):
        open_source(folder, fps=fps)


@pytest.mark.parametrize("suffix", ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"])
def test_every_supported_image_format(tmp_path, suffix):
    folder = write_images(tmp_path / "seq", [f"f{k}.{suffix}" for k in range(3)])
    with open_source(folder, fps=30) as src:
        frames = list(src)
    assert [identify(f.image, 3) for f in frames] == [0, 1, 2]
    if suffix in ("png", "bmp", "tif", "tiff"):
        assert np.array_equal(frames[2].image, gradient(2))


def test_greyscale_images_become_three_channels(tmp_path):
    folder = write_images(tmp_path / "samm", ["006_05562.jpg", "006_05563.jpg"], grey=True)
    with open_source(folder, fps=200) as src:
        frames = list(src)
    image = frames[0].image
    assert image.shape == (H, W, 3)
    assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])


def test_16_bit_and_alpha_images_are_read_as_8_bit_rgb(tmp_path):
    deep = tmp_path / "deep.png"
    levels = np.arange(W * H, dtype=np.uint16).reshape(H, W) * 9
    Image.fromarray(levels).save(deep)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([gradient(0), np.full((H, W), 128, np.uint8)])).save(rgba)
    assert np.array_equal(read_image(deep), np.repeat((levels >> 8).astype(np.uint8)[..., None], 3, axis=2))
    assert np.array_equal(read_image(rgba), gradient(0))


def test_non_image_files_are_ignored_with_one_warning(tmp_path, caplog):
    folder = write_images(tmp_path / "seq", ["img1.jpg", "img2.jpg", "img3.jpg"])
    (folder / "notes.txt").write_text("subject 1")
    (folder / "Thumbs.db").write_bytes(b"\0" * 64)
    (folder / ".DS_Store").write_bytes(b"\0" * 64)  # hidden: ignored silently
    with caplog.at_level(logging.WARNING, logger="microexpr.io"), open_source(folder, fps=30) as src:
        frames = list(src)
        warnings = src.warnings
    assert [f.name for f in frames] == ["img1.jpg", "img2.jpg", "img3.jpg"]
    assert len(warnings) == 1
    assert "notes.txt" in warnings[0] and "Thumbs.db" in warnings[0] and str(folder) in warnings[0]
    assert [r.getMessage() for r in caplog.records if r.name == "microexpr.io"] == warnings


def test_an_image_that_fails_to_decode_is_skipped_and_the_others_keep_their_times(tmp_path):
    folder = write_images(tmp_path / "seq", [f"img{k}.jpg" for k in range(1, 7)])
    data = (folder / "img3.jpg").read_bytes()
    (folder / "img3.jpg").write_bytes(data[: len(data) // 3])  # truncated
    (folder / "img5.jpg").write_text("not a jpeg")
    with open_source(folder, fps=100) as src:
        frames = list(src)
        warnings = src.warnings
        assert src.info.frame_count == 6
    assert [f.name for f in frames] == ["img1.jpg", "img2.jpg", "img4.jpg", "img6.jpg"]
    assert [f.index for f in frames] == [0, 1, 3, 5]
    assert [f.t_s for f in frames] == [0.0, 0.01, 0.03, 0.05]
    assert len(warnings) == 2
    assert "img3.jpg" in warnings[0] and "img5.jpg" in warnings[1]
    assert all("skipped" in w and "\n" not in w for w in warnings)


def test_start_end_on_a_sequence(tmp_path):
    folder = write_images(tmp_path / "seq", [f"img{k}.png" for k in range(1, 21)])
    with open_source(folder, fps=10, start_s=0.5, end_s=1.2) as src:
        frames = list(src)
        assert src.first_index == 5 and src.info.frame_count == 7
        assert np.array_equal(src.timestamps(), [f.t_s for f in frames])
        assert [f.index for f in src.iter_range(8, 100)] == [8, 9, 10, 11]
    assert [f.name for f in frames] == [f"img{k}.png" for k in range(6, 13)]
    with pytest.raises(OptionError, match=r"--start 2 s is at or beyond the end of .*seq \(duration 2.000 s"):
        open_source(folder, fps=10, start_s=2.0)


def test_folder_without_images(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(b"\0" * 100)
    with pytest.raises(InputError) as e:
        open_source(folder, fps=30)
    msg = str(e.value)
    assert str(folder) in msg and "has no images" in msg and "clip.mp4" in msg


def test_dataset_root_instead_of_a_clip_folder(tmp_path):
    write_images(tmp_path / "sub01" / "EP02_01f", ["img1.jpg"])
    write_images(tmp_path / "sub01" / "EP03_02f", ["img1.jpg"])
    with pytest.raises(
        InputError, match=r"has no images \(it holds folders EP02_01f, EP03_02f: pass one of them\)"
    ):
        open_source(tmp_path / "sub01", fps=200)


def test_folder_where_no_image_can_be_read(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.jpg").write_text("x")
    (folder / "b.png").write_text("y")
    with pytest.raises(InputError, match="none of its 2 image file"):
        open_source(folder, fps=30)


def test_photos_of_different_sizes(tmp_path):
    folder = tmp_path / "photos"
    write_images(folder, ["b.jpg"], size=(120, 90))
    write_images(folder, ["a.png"], size=(64, 64))
    with open_source(folder, images=True) as src:
        frames = list(src)
        assert src.kind == "images" and src.info.fps == 1.0 and src.info.frame_count == 2
        assert src.warnings == []
    assert [(f.index, f.t_s, f.name, f.image.shape) for f in frames] == [
        (0, 0.0, "a.png", (64, 64, 3)),
        (1, 0.0, "b.jpg", (90, 120, 3)),
    ]


def test_a_single_photo(tmp_path):
    write_images(tmp_path, ["face.jpg"], size=(80, 100))
    for images in (True, False):  # an image file is a photo with or without --images
        with open_source(tmp_path / "face.jpg", images=images) as src:
            frames = list(src)
            assert src.kind == "images" and src.info.codec == "images"
        assert len(frames) == 1 and frames[0].name == "face.jpg" and frames[0].image.shape == (100, 80, 3)


def test_a_photo_that_is_not_an_image(tmp_path):
    path = tmp_path / "face.jpg"
    path.write_text("hello")
    with pytest.raises(InputError) as e:
        open_source(path, images=True)
    assert str(path) in str(e.value) and "not a readable image" in str(e.value)


def test_photos_refuse_start_end(tmp_path):
    write_images(tmp_path, ["face.jpg"])
    with pytest.raises(OptionError, match="--start/--end do not apply to photos"):
        open_source(tmp_path / "face.jpg", start_s=1.0)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    image = Image.fromarray(gradient(0))
    exif = image.getexif()
    exif[0x0112] = 6  # camera held upright: rotate 90 degrees clockwise to display
    image.save(path, exif=exif, quality=95)
    assert read_image(path).shape == (W, H, 3)
