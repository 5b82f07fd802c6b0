"""Perceptual hashes of the photos a page showed: PDQ, the open algorithm Meta and Thorn use to
match photos that were re-encoded, resized or lightly cropped.

Two photos are alike when the Hamming distance between their 256-bit PDQ hashes is small:
31 or less is PDQ's own threshold for "the same photo". Only images of at least 100×100
pixels are hashed (icons, spacers and tracking pixels tell nothing and match everything).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

MIN_SIDE = 100
DISTANCE = 31  # PDQ's recommended match threshold
BITS = 256
# Photos are shrunk to this size before hashing, as PDQ's reference implementation does:
# the hash only looks at a 64×64 reduction, and a 4000-pixel photo would cost a second.
_HASH_SIDE = 512
# A decompression bomb (a small file claiming a billion pixels) is not a photo.
_MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class PhotoHash:
    pdq: str  # 64 hex digits
    quality: int  # PDQ's own 0-100 measure of how much detail there was to hash
    width: int
    height: int


def hash_photo(data: bytes) -> PhotoHash | None:
    """The PDQ hash of an image's bytes, or None: not an image Pillow reads, or too small."""
    import numpy
    import pdqhash
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            width, height = opened.size
            if min(width, height) < MIN_SIDE or width * height > _MAX_PIXELS:
                return None
            opened.draft("RGB", (_HASH_SIDE, _HASH_SIDE))  # JPEG: decode at a reduced size
            image = opened.convert("RGB")
            image.thumbnail((_HASH_SIDE, _HASH_SIDE))
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None
    bits, quality = pdqhash.compute(numpy.asarray(image))
    value = 0
    for bit in bits:
        value = value << 1 | int(bit)
    return PhotoHash(f"{value:064x}", int(quality), width, height)


def distance(a: str, b: str) -> int:
    """Hamming distance between two PDQ hashes given as hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
