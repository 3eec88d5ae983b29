"""Reading a keep-still mask: a PNG, white (>= 128) where the picture must not move."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def load_keep_still_mask(path: Path, size: tuple[int, int], *, fit: bool = False) -> np.ndarray:
    """The mask as a boolean array of `size` (width, height).

    Without `fit` it must already be that size (`vivant animate`: the person drew it on that photo);
    with `fit` it is scaled to it (the photo page paints at the size it shows the photo)."""
    try:
        with Image.open(path) as mask_image:
            mask = np.asarray(mask_image.convert("L"))
    except OSError as exc:  # not an image, truncated, unreadable
        raise ValueError(f"the keep-still mask {path.name} cannot be read as an image ({exc})") from None
    if (mask.shape[1], mask.shape[0]) != size:
        if not fit:
            raise ValueError(
                f"the keep-still mask is {mask.shape[1]}x{mask.shape[0]} but the photo is {size[0]}x{size[1]}"
            )
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
    return mask >= 128
