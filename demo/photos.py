"""Photos for the fixture ads, drawn at run time: originals, their reposted copies, unrelated ones.

An ad's photo is reused elsewhere after being re-encoded, resized or lightly cropped (a site
recompresses uploads; a poster crops a watermark). Each original is a seeded drawing of shapes
on a gradient, detailed enough for a perceptual hash to tell two originals apart.
"""

from __future__ import annotations

import io
import random
from functools import cache

from PIL import Image, ImageDraw, ImageFilter

SIZE = (640, 480)


def _original(seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    for y in range(SIZE[1]):
        t = y / SIZE[1]
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (SIZE[0], y)], fill=colour)
    for _ in range(14):
        x, y = rng.randrange(SIZE[0]), rng.randrange(SIZE[1])
        w, h = rng.randrange(40, 260), rng.randrange(40, 220)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse([x, y, x + w, y + h], fill=colour)
        else:
            draw.rectangle([x, y, x + w, y + h], fill=colour)
    return image.filter(ImageFilter.GaussianBlur(2))


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * fraction), int(h * fraction)
    return image.crop((dx, dy, w - dx, h - dy))


# name -> (seed of the original, what was done to it)
PHOTOS: dict[str, tuple[int, str]] = {
    "amira": (1, "original"),
    "amira-reposted": (1, "re-encoded at JPEG quality 45"),
    "amira-small": (1, "resized to 55%"),
    "amira-cropped": (1, "cropped by 1% on every side"),
    "studio": (2, "original"),
    "van": (3, "original"),
    "beach": (4, "original"),
}


@cache
def photo(name: str) -> bytes:
    """The JPEG bytes of a named fixture photo (KeyError for an unknown name)."""
    seed, how = PHOTOS[name]
    image = _original(seed)
    if how.startswith("re-encoded"):
        return _jpeg(Image.open(io.BytesIO(_jpeg(image))), quality=45)
    if how.startswith("resized"):
        return _jpeg(image.resize((int(SIZE[0] * 0.55), int(SIZE[1] * 0.55)), Image.LANCZOS))
    if how.startswith("cropped"):
        return _jpeg(_crop(image, 0.01))
    return _jpeg(image)


def same_photo(a: str, b: str) -> bool:
    """Whether two fixture photos are copies of one original (the ground truth for matching)."""
    return PHOTOS[a][0] == PHOTOS[b][0]
